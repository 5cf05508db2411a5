"""audit: a bulk writer's entries straight into audit_log (emplan.audit_direct), without staging and the merge at commit

Revision ID: 0008_audit_direct
Revises: 0007_exchange
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

from alembic import op

from emplan_shared.audit.triggers import CHANGES_FUNCTION

revision: str = "0008_audit_direct"
down_revision: str | None = "0007_exchange"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The function as 0006_audit created it, frozen here: what the downgrade puts back.
STAGED_ONLY = r"""
CREATE OR REPLACE FUNCTION emplan_audit_changes() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    object_type text := TG_ARGV[0];
    keys text[] := TG_ARGV[1]::text[];
    dropped text[] := TG_ARGV[2]::text[];
    digested text[] := TG_ARGV[3]::text[];
    region_expr text := coalesce(nullif(TG_ARGV[4], ''), 'NULL');
    action text := CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END;
    key_j text;
    key_o text;
    clean_j text;
    clean_o text;
    column_name text;
    source text;
BEGIN
    SELECT 'concat_ws('','', ' || string_agg(format('j ->> %L', k), ', ' ORDER BY n) || ')',
           'concat_ws('','', ' || string_agg(format('o ->> %L', k), ', ' ORDER BY n) || ')'
        INTO key_j, key_o
        FROM unnest(keys) WITH ORDINALITY AS u(k, n);
    clean_j := format('(j - %L::text[])', dropped);
    clean_o := format('(o - %L::text[])', dropped);
    FOREACH column_name IN ARRAY digested LOOP
        clean_j := clean_j || format(
            ' || CASE WHEN coalesce(j -> %1$L, ''null''::jsonb) = ''null''::jsonb THEN ''{}''::jsonb'
            ' ELSE jsonb_build_object(%1$L, ''sha256:'' || encode(sha256(convert_to((j -> %1$L)::text,'
            ' ''UTF8'')), ''hex'')) END', column_name);
        clean_o := clean_o || format(
            ' || CASE WHEN coalesce(o -> %1$L, ''null''::jsonb) = ''null''::jsonb THEN ''{}''::jsonb'
            ' ELSE jsonb_build_object(%1$L, ''sha256:'' || encode(sha256(convert_to((o -> %1$L)::text,'
            ' ''UTF8'')), ''hex'')) END', column_name);
    END LOOP;
    IF TG_OP = 'INSERT' THEN
        source := format('SELECT j, NULL::jsonb AS before, %s AS after FROM'
            ' (SELECT to_jsonb(r) AS j FROM new_rows r) s', clean_j);
    ELSIF TG_OP = 'DELETE' THEN
        source := format('SELECT j, %s AS before, NULL::jsonb AS after FROM'
            ' (SELECT to_jsonb(r) AS j FROM old_rows r) s', clean_j);
    ELSE
        source := format('SELECT j, before, after FROM (SELECT j, %s AS before, %s AS after FROM'
            ' (SELECT to_jsonb(r) AS o FROM old_rows r) x'
            ' JOIN (SELECT to_jsonb(r) AS j FROM new_rows r) n ON %s = %s) s'
            ' WHERE before IS DISTINCT FROM after',
            clean_o, clean_j, key_o, key_j);
    END IF;
    EXECUTE format(
        'INSERT INTO audit_pending (actor_subject, actor_kind, actor_name, request_id, action, object_type,'
        '  object_id, region_code, before, after) '
        'SELECT $2, $3, $4, $5, $6, $1, %s, left((%s)::text, 6), before, after FROM (%s) AS changed',
        key_j, region_expr, source)
    USING object_type,
        nullif(current_setting('emplan.actor_subject', true), ''),
        coalesce(nullif(current_setting('emplan.actor_kind', true), ''), 'system'),
        nullif(current_setting('emplan.actor_name', true), ''),
        nullif(current_setting('emplan.request_id', true), ''),
        action;
    INSERT INTO audit_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$fn$
"""


def upgrade() -> None:
    op.execute(CHANGES_FUNCTION)


def downgrade() -> None:
    op.execute(STAGED_ONLY)
