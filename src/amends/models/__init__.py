"""All tables; importing this module registers them on `Base.metadata` for Alembic."""

from amends.models.api_key import ApiKey
from amends.models.audit_event import AuditEvent
from amends.models.authority import Approval, AuthorityLimit, BudgetUsage
from amends.models.brand import BrandLogo
from amends.models.case import Case, CaseEvent, Reason
from amends.models.code_pool import CodePool, PoolCode, PoolImport
from amends.models.commerce import Event, Order, Shipment
from amends.models.coupon import Coupon, GiftCardEntry, Redemption, Reservation
from amends.models.customer import Customer
from amends.models.day_rollup import CaseDay, GestureDay, RedemptionDay, RollupChange
from amends.models.delivery import ChannelConfig, Delivery, MessageTemplate
from amends.models.helpdesk import HelpdeskInstallation, HelpdeskPanel, HelpdeskReplay
from amends.models.idempotency_key import IdempotencyKey
from amends.models.incentive import Incentive
from amends.models.incident import Incident, IncidentCustomer
from amends.models.job import Job
from amends.models.organization import Organization
from amends.models.outcome import LedgerRollup, OutcomeRollup, RollupRun
from amends.models.recovery import RecoveryRule, RuleFiring
from amends.models.shop import ShopCode, ShopConnection, ShopCustomer, ShopOrder
from amends.models.user import User
from amends.models.user_session import UserSession
from amends.models.wallet import WalletConfig, WalletPass, WalletRegistration
from amends.models.webhook import Suppression, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Approval",
    "AuditEvent",
    "AuthorityLimit",
    "BrandLogo",
    "BudgetUsage",
    "Case",
    "CaseDay",
    "CaseEvent",
    "ChannelConfig",
    "CodePool",
    "Coupon",
    "Customer",
    "Delivery",
    "Event",
    "GestureDay",
    "GiftCardEntry",
    "HelpdeskInstallation",
    "HelpdeskPanel",
    "HelpdeskReplay",
    "IdempotencyKey",
    "Incentive",
    "Incident",
    "IncidentCustomer",
    "Job",
    "LedgerRollup",
    "MessageTemplate",
    "Order",
    "Organization",
    "OutcomeRollup",
    "PoolCode",
    "PoolImport",
    "Reason",
    "RecoveryRule",
    "Redemption",
    "RedemptionDay",
    "Reservation",
    "RollupChange",
    "RollupRun",
    "RuleFiring",
    "Shipment",
    "ShopCode",
    "ShopConnection",
    "ShopCustomer",
    "ShopOrder",
    "Suppression",
    "User",
    "UserSession",
    "WalletConfig",
    "WalletPass",
    "WalletRegistration",
    "WebhookDelivery",
    "WebhookEndpoint",
]
