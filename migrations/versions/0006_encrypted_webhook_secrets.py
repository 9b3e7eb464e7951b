"""webhook signing secrets encrypted at rest

``webhooks.secret`` now holds the secret encrypted (store/crypto.py: Fernet under
ELSNET_SECRET_KEY, or the home's secret.key), so the column is widened, and the secrets already
stored in plain are encrypted here. The service reads a plain value too (a value without the
``enc1:`` prefix), so a row this migration did not see still works.

Downgrade decrypts them back into plain values (it needs the same key) and narrows the column.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14 18:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from store.crypto import PREFIX, seal, unseal

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_hooks = sa.table('webhooks', sa.column('id', sa.String), sa.column('secret', sa.String))


def _rewrite(convert) -> None:  # type: ignore[no-untyped-def]
    bind = op.get_bind()
    for hook_id, secret in bind.execute(sa.select(_hooks.c.id, _hooks.c.secret)).all():
        new = convert(secret)
        if new != secret:
            bind.execute(_hooks.update().where(_hooks.c.id == hook_id).values(secret=new))


def upgrade() -> None:
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=100), type_=sa.String(length=300),
                              existing_nullable=False)
    _rewrite(lambda s: s if s.startswith(PREFIX) else seal(s))


def downgrade() -> None:
    _rewrite(unseal)
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=300), type_=sa.String(length=100),
                              existing_nullable=False)
