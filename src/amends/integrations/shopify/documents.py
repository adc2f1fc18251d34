"""The GraphQL documents Amends sends to Shopify's Admin API, each with the reference page it
follows. Every one selects `userErrors`: a mutation that answers some did not happen."""

# https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeBasicCreate
CREATE_BASIC = """
mutation AmendsDiscountCodeBasicCreate($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeFreeShippingCreate
CREATE_FREE_SHIPPING = """
mutation AmendsDiscountCodeFreeShippingCreate($input: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/giftCardCreate
CREATE_GIFT_CARD = """
mutation AmendsGiftCardCreate($input: GiftCardCreateInput!) {
  giftCardCreate(input: $input) {
    giftCard { id }
    giftCardCode
    userErrors { field code message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeBasicUpdate
UPDATE_BASIC = """
mutation AmendsDiscountCodeBasicUpdate($id: ID!, $input: DiscountCodeBasicInput!) {
  discountCodeBasicUpdate(id: $id, basicCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeFreeShippingUpdate
UPDATE_FREE_SHIPPING = """
mutation AmendsDiscountCodeFreeShippingUpdate($id: ID!,
                                              $input: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingUpdate(id: $id, freeShippingCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/giftCardUpdate (its payload's
# `userErrors` are plain `UserError`s, without a code:
# https://shopify.dev/docs/api/admin-graphql/2025-10/payloads/giftcardupdatepayload).
UPDATE_GIFT_CARD = """
mutation AmendsGiftCardUpdate($id: ID!, $input: GiftCardUpdateInput!) {
  giftCardUpdate(id: $id, input: $input) {
    giftCard { id }
    userErrors { field message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeActivate
ACTIVATE = """
mutation AmendsDiscountCodeActivate($id: ID!) {
  discountCodeActivate(id: $id) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeDeactivate
# ("Deactivated discounts remain in the system and can be reactivated later").
DEACTIVATE = """
mutation AmendsDiscountCodeDeactivate($id: ID!) {
  discountCodeDeactivate(id: $id) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/giftCardDeactivate (for good).
DEACTIVATE_GIFT_CARD = """
mutation AmendsGiftCardDeactivate($id: ID!) {
  giftCardDeactivate(id: $id) {
    giftCard { id }
    userErrors { field message }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/2025-10/queries/codeDiscountNodeByCode
# (the code is matched case-insensitively).
FIND_CODE = """
query AmendsCodeDiscountNodeByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      __typename
      ... on DiscountCodeBasic { status endsAt asyncUsageCount }
      ... on DiscountCodeFreeShipping { status endsAt asyncUsageCount }
    }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/objects/GiftCard
FIND_GIFT_CARD = """
query AmendsGiftCard($id: ID!) {
  giftCard(id: $id) {
    id
    enabled
    expiresOn
    balance { amount currencyCode }
    initialValue { amount }
  }
}"""
# https://shopify.dev/docs/api/admin-graphql/latest/queries/customerByIdentifier
CUSTOMER_BY_EMAIL = """
query AmendsCustomerByEmail($email: String!) {
  customerByIdentifier(identifier: {emailAddress: $email}) { id }
}"""
