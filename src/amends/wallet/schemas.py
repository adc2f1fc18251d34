from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from amends.kit.schema import Input

Pem = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class AppleWalletIn(Input):
    pass_type_identifier: Annotated[str, StringConstraints(
        pattern=r"^pass\.[A-Za-z0-9.-]{1,200}$")] = Field(
        description="The Pass Type ID, e.g. pass.com.retailer.coupons")
    team_identifier: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{10}$")] = Field(
        description="The Apple developer team id (10 characters)")
    pass_certificate: Pem = Field(description="The Pass Type ID certificate, PEM")
    pass_key: Pem = Field(description="Its private key, PEM (write-only)")
    pass_key_password: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="The private key's password, when it is encrypted")
    wwdr_certificate: Pem = Field(
        description="Apple's WWDR intermediate certificate that issued the pass certificate, PEM")
    apns_key: Pem = Field(description="The APNs auth key (.p8 file's text, write-only)")
    apns_key_id: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{10}$")] = Field(
        description="The APNs auth key's id (10 characters)")
    apns_sandbox: bool = Field(
        default=False, description="Push to APNs' sandbox (development devices)")


class GoogleWalletIn(Input):
    issuer_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,30}$")] = Field(
        description="The Google Wallet issuer id")
    service_account_key: dict[str, Any] = Field(
        description="The service account's JSON key file, as downloaded (write-only)")


class AppleWalletOut(BaseModel):
    pass_type_identifier: str
    team_identifier: str
    certificate_subject: str
    certificate_expires_at: datetime
    apns_key_id: str
    apns_sandbox: bool
    updated_at: datetime


class GoogleWalletOut(BaseModel):
    issuer_id: str
    client_email: str
    updated_at: datetime


class WalletOut(BaseModel):
    """What is set up; secrets (keys, passwords) are never shown."""

    apple: AppleWalletOut | None
    google: GoogleWalletOut | None
