"""What migration plans announce to the apps above them (chat and webhook messages) without importing them.

Each is sent with sender=MigrationPlan, plan=the plan and actor=the `Actor` who caused it. Receivers run
inside the sender's transaction, so a rolled-back change announces nothing.
"""

from django.dispatch import Signal

# steps=[ChecklistStep] that still need sign-offs; why=what asked for them, in a sentence.
# Sent when a plan is submitted, and when a plan in review loses sign-offs (edited, evidence changed,
# a signer left or lost the role) and needs them again.
review_requested = Signal()

# decision="approved" (the last sign-off the checklist needed) or "rejected" (one step rejected);
# step=the rejected ChecklistStep or None; comment=the rejecting signer's comment, or "".
plan_decided = Signal()

# move="started", "advanced", "completed" or "rolled_back"; percent=the candidate's share of requests
# after the move (before it, for a rollback); reason=why it rolled back, or "".
rollout_moved = Signal()
