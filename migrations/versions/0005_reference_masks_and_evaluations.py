"""reference masks on studies, evaluations on models

A study may carry an expert's complete label map (``reference_key``, when it was stored, and
how many voxels each label value covers); a model may carry its evaluation on those reference
masks (a JSON document, docs/API.md). Both are new, nullable columns: existing rows mean "no
reference" and "never evaluated".

Downgrade drops the columns: the reference files stay in object storage (under the study's
folder, removed with the study) but no row points at them any more, and evaluations are lost.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-14 16:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('studies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference_key', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('reference_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reference_voxels', sa.JSON(), nullable=True))
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evaluation', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_column('evaluation')
    with op.batch_alter_table('studies', schema=None) as batch_op:
        batch_op.drop_column('reference_voxels')
        batch_op.drop_column('reference_at')
        batch_op.drop_column('reference_key')
