"""Initial history tables: processes, agents, skills, citizens, contacts, trace, states, callbacks

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 15:16:49.124889
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_states',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('contact_id', sa.String(length=64), nullable=True),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.create_index('ix_agent_states_agent', ['agent_id', 'at'], unique=False)

    op.create_table('agents',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('channels', sa.String(length=200), nullable=False),
    sa.Column('endpoint', sa.String(length=200), nullable=True),
    sa.Column('desk', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('agent_id')
    )
    op.create_table('callbacks',
    sa.Column('callback_id', sa.String(length=64), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('requested_at', sa.Float(), nullable=False),
    sa.Column('deadline', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('callback_id')
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callbacks_requested_at'), ['requested_at'], unique=False)

    op.create_table('citizens',
    sa.Column('citizen_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('consent', sa.Boolean(), nullable=False),
    sa.Column('first_seen', sa.Float(), nullable=False),
    sa.Column('last_seen', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('citizen_id')
    )
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citizens_last_seen'), ['last_seen'], unique=False)

    op.create_table('contact_events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('contact_events', schema=None) as batch_op:
        batch_op.create_index('ix_contact_events_contact', ['contact_id', 'seq'], unique=False)

    op.create_table('contacts',
    sa.Column('contact_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('process', sa.String(length=64), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=True),
    sa.Column('ticket', sa.String(length=32), nullable=True),
    sa.Column('citizen_id', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('arrived_at', sa.Float(), nullable=True),
    sa.Column('queued_at', sa.Float(), nullable=True),
    sa.Column('qualified_at', sa.Float(), nullable=True),
    sa.Column('offered_at', sa.Float(), nullable=True),
    sa.Column('answered_at', sa.Float(), nullable=True),
    sa.Column('ended_at', sa.Float(), nullable=True),
    sa.Column('deadline', sa.Float(), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('waited', sa.Float(), nullable=True),
    sa.Column('updated_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('contact_id')
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_arrived_at'), ['arrived_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_citizen_id'), ['citizen_id'], unique=False)

    op.create_table('history_progress',
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('stream')
    )
    op.create_table('processes',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('domain', sa.String(length=64), nullable=False),
    sa.Column('min_level', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('skills',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('process', sa.String(length=64), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.agent_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', 'process')
    )


def downgrade() -> None:
    op.drop_table('skills')
    op.drop_table('processes')
    op.drop_table('history_progress')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_citizen_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_arrived_at'))
        batch_op.drop_index(batch_op.f('ix_contacts_agent_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('contact_events', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_events_contact')

    op.drop_table('contact_events')
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizens_last_seen'))

    op.drop_table('citizens')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callbacks_requested_at'))

    op.drop_table('callbacks')
    op.drop_table('agents')
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_states_agent')

    op.drop_table('agent_states')
