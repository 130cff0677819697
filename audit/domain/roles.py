"""The roles and their groups, named once.

The domain decides with them (who may vote, who runs a session, which role a user may have) and
the web layer's access rules (audit/access.py) declare every route with them, so a group of
roles is never written out twice.
"""

from __future__ import annotations

# Every role, from the most to the least it may do.
ROLES = ("admin", "quality", "member", "viewer")
ALL_ROLES = frozenset(ROLES)
READERS = tuple(sorted(ALL_ROLES))
# Who changes the register and runs review sessions.
EDITORS = ("admin", "quality")
ADMINS = ("admin",)
# Who votes in a review session: viewers read, they never vote.
VOTERS = ("member", "quality", "admin")
# Who sees the figures (dashboard and reports): team members see their own sessions instead.
FIGURE_READERS = ("admin", "quality", "viewer")
# Who may own a follow-up action (and so mark it done): viewers read, they never act.
ACTION_OWNERS = ("member", "quality", "admin")
# Who may enter the client council's advice on a decision: the session's facilitator and admins
# (decided by the domain), and a viewer, the council's own account, for sessions shared with
# the council (docs/design.md, "Client council advice").
COUNCIL_ADVISERS = ("admin", "quality", "viewer")
COUNCIL_MEMBERS = ("viewer",)
