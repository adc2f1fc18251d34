"""Make amends without leaving the ticket: Amends installed in a helpdesk (Zendesk, Freshdesk,
Intercom, Gorgias). The agent's panel, the installations, tickets that open cases; each
platform's signatures, payloads and packages live in `integrations/<platform>/`."""
