"""API key roles (admin, editor, reader) and project scopes

Existing keys keep the power they had: admin keys become role "admin", every other key role
"editor" (until now any valid key could change and delete every project), none is scoped.
``is_admin`` goes: it is derived from the role (``ApiKey.is_admin``, ``ApiKeyPublic.is_admin``).

Downgrade: the old schema knows only admin and plain keys, and a plain key there may change
every project. A reader key or a key scoped to projects would gain power, so downgrading
revokes those keys (their holders get 401 and need a new key); admin and unscoped editor keys
come back as admin and plain keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-14 10:00:00.000000
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

keys = sa.table(
    'api_keys',
    sa.column('is_admin', sa.Boolean()),
    sa.column('role', sa.String(16)),
    sa.column('project_ids', sa.JSON()),
    sa.column('revoked_at', sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('project_ids', sa.JSON(), nullable=True))
    op.execute(keys.update().values(
        role=sa.case((keys.c.is_admin == sa.true(), 'admin'), else_='editor')))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_column('is_admin')


def downgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), nullable=True))
    op.execute(keys.update().values(is_admin=keys.c.role == 'admin'))
    # a JSON null and SQL NULL both mean "all projects"; an empty list too
    scoped = sa.and_(keys.c.project_ids.is_not(None),
                     sa.cast(keys.c.project_ids, sa.String()).not_in(['null', '[]']))
    op.execute(keys.update()
               .where(sa.or_(keys.c.role == 'reader', scoped), keys.c.revoked_at.is_(None))
               .values(revoked_at=datetime.now(UTC)))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.alter_column('is_admin', existing_type=sa.Boolean(), nullable=False)
        batch_op.drop_column('project_ids')
        batch_op.drop_column('role')
