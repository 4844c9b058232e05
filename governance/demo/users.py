"""The demo's users and their roles, shared by seed_demo and the login page's hint."""

from governance.projects.models import Role

DEMO_PASSWORD = "demo-password"
DEMO_USERS = {
    "admin": Role.ADMIN,
    "approver": Role.APPROVER,
    "lead": Role.APPROVER,
    "developer": Role.DEVELOPER,
    "viewer": Role.VIEWER,
    "auditor": None,
}
