"""contacts.wait_approximate: the wait of a caller gone while the dispatcher could not see them is an estimate

Revision ID: 0002_wait_approximate
Revises: pages_users
Create Date: 2026-12-01 21:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002_wait_approximate'
down_revision = 'pages_users'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('wait_approximate', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('wait_approximate')
