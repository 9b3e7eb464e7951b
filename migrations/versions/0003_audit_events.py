"""audit trail: who changed or downloaded what

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 14:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('api_key_id', sa.String(length=32), nullable=True),
        sa.Column('key_prefix', sa.String(length=12), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('path', sa.String(length=500), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=32), nullable=True),
        sa.Column('client', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_api_key_id'), ['api_key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    op.drop_table('audit_events')
