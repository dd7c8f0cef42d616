"""The admin side: accounts, sign-in sessions with CSRF checks, the dashboard and its controls.

Admins are made on the command line (`python -m sync_server create-admin NAME`), sign in
at `/admin/login`, and then see and steer every site at `/admin`. Every other admin page
sends an anonymous visitor to the sign-in form; every `/v1/admin/...` endpoint answers
them 401.
"""

from sync_server.admin.accounts import PasswordChecks
from sync_server.admin.dashboard import Dashboards
from sync_server.admin.login import LoginLimiter
from sync_server.admin.routes import routes

__all__ = ["Dashboards", "LoginLimiter", "PasswordChecks", "routes"]
