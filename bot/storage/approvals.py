"""Approval requests in the store: every state change is a compare-and-set, so each step of the
state machine (see `ApprovalStatus`) happens once, whichever replica or thread tries it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core.records import Approval, ApprovalStatus
from bot.storage.schema import approvals, within


class ApprovalRows:
    engine: Engine

    @contextmanager
    def _approvals_tx(self, conn: Connection | None) -> Iterator[Connection]:
        with within(self.engine, conn) as c:
            yield c

    def add_approval(self, approval: Approval, conn: Connection | None = None) -> None:
        row = {col.name: getattr(approval, col.name) for col in approvals.c}
        row["status"] = approval.status.value
        row["params"] = dict(approval.params)
        with self._approvals_tx(conn) as c:
            c.execute(sa.insert(approvals).values(**row))

    @staticmethod
    def _approval(row: Any) -> Approval:
        data = dict(row._mapping)
        data["status"] = ApprovalStatus(data["status"])
        return Approval(**data)

    def get_approval(self, approval_id: str, conn: Connection | None = None) -> Approval | None:
        with self._approvals_tx(conn) as c:
            row = c.execute(sa.select(approvals).where(approvals.c.id == approval_id)).first()
        return self._approval(row) if row else None

    def set_approval(self, approval_id: str, conn: Connection | None = None, **values: Any) -> None:
        """Fields that are not the state (where its messages are, for one)."""
        assert "status" not in values, "state changes go through transition_approval"
        with self._approvals_tx(conn) as c:
            c.execute(sa.update(approvals).where(approvals.c.id == approval_id).values(**values))

    def transition_approval(
        self,
        approval_id: str,
        *,
        from_status: ApprovalStatus,
        to_status: ApprovalStatus,
        now: datetime,
        user: str | None = None,
        outcome: str | None = None,
        operation: str | None = None,
        unexpired: bool = False,
        expect_attempt_at: datetime | None = None,
        conn: Connection | None = None,
        **values: Any,
    ) -> Approval | None:
        """Compare-and-set: the updated approval if it was `from_status` (and, for taking over a
        stale attempt, still claimed at `expect_attempt_at`), else None: someone else won."""
        values["status"] = to_status.value
        if user is not None:
            values.update(decided_by=user, decided_at=now)
        if outcome is not None:
            values["outcome"] = outcome
        if operation is not None:
            values["operation"] = operation
        condition = sa.and_(approvals.c.id == approval_id, approvals.c.status == from_status.value)
        if unexpired:
            condition = sa.and_(condition, approvals.c.expires_at > now)
        if expect_attempt_at is not None:
            condition = sa.and_(condition, approvals.c.attempt_at == expect_attempt_at)
        with self._approvals_tx(conn) as c:
            result = c.execute(sa.update(approvals).where(condition).values(**values))
            if result.rowcount != 1:
                return None
            row = c.execute(sa.select(approvals).where(approvals.c.id == approval_id)).one()
        return self._approval(row)

    def _approvals_where(self, *conditions: Any) -> list[Approval]:
        with self._approvals_tx(None) as c:
            rows = c.execute(
                sa.select(approvals).where(*conditions).order_by(approvals.c.created_at)
            ).all()
        return [self._approval(r) for r in rows]

    def expired_approvals(self, now: datetime) -> list[Approval]:
        return self._approvals_where(
            approvals.c.status == ApprovalStatus.PENDING.value, approvals.c.expires_at <= now
        )

    def approvals_to_resume(self, now: datetime, stale_before: datetime) -> list[Approval]:
        """Approved ones due for an attempt, and attempts cut off (claimed before
        `stale_before` and never finished: the process died, or lost the database)."""
        due = sa.and_(
            approvals.c.status == ApprovalStatus.APPROVED.value,
            sa.or_(approvals.c.next_attempt_at.is_(None), approvals.c.next_attempt_at <= now),
        )
        stale = sa.and_(
            approvals.c.status == ApprovalStatus.EXECUTING.value,
            approvals.c.attempt_at <= stale_before,
        )
        return self._approvals_where(sa.or_(due, stale))

    def pending_approvals(self) -> list[Approval]:
        """Every request waiting for an approver."""
        return self._approvals_where(approvals.c.status == ApprovalStatus.PENDING.value)

    def executing_approvals(self) -> list[Approval]:
        """Every attempt under way, whoever claimed it (crash takeover checks their owners)."""
        return self._approvals_where(approvals.c.status == ApprovalStatus.EXECUTING.value)

    def pending_request(self, action: str, target: str) -> Approval | None:
        """A request for the same action on the same target, still waiting for an approver."""
        found = self._approvals_where(
            approvals.c.status == ApprovalStatus.PENDING.value,
            approvals.c.action == action,
            approvals.c.target == target,
        )
        return found[0] if found else None

    def count_approvals(self, status: ApprovalStatus) -> int:
        with self._approvals_tx(None) as c:
            return int(
                c.execute(
                    sa.select(sa.func.count()).where(approvals.c.status == status.value)
                ).scalar_one()
            )
