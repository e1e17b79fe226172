"""contacts.end_approximate: the end of a contact gone while the dispatcher could not see it is an estimate

Revision ID: 0004_end_approximate
Revises: 0002_wait_approximate
Create Date: 2026-12-01 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_end_approximate'
down_revision = '0002_wait_approximate'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('end_approximate', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('end_approximate')
