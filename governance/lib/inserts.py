"""A model's INSERT statement compiled once per process, for a row written on every request.

Django's `save()` compiles its INSERT anew on every call. For a wide row that is a large share
of a request: the generation's 44 columns cost a quarter of a governed submission's CPU. The
statement's text depends only on the model and the database, so it is built once; each call
prepares only the values, field by field, exactly as Django's compiler does (`pre_save`, then
`get_db_prep_save`). No signals are sent, so use it only for models nothing listens to.
"""

import functools

from django.db import connections, models, router, transaction
from django.db.models import Field, Model


def insert_new(instance: Model, *, provided: tuple[str, list] | None = None, followed_by: Model | None = None) -> bool:
    """Save a new `instance` with one INSERT and set its primary key, as `instance.save()` would.

    `provided` is a statement that changes at most one row, with RETURNING, and its parameters (PostgreSQL
    only): the row is inserted, in the same statement, only if that one changed a row. False if it did not.
    `followed_by` is a new row of another model whose primary key is a one-to-one link to `instance`: it is
    inserted with it, in the same statement on PostgreSQL, elsewhere in the same transaction.
    """
    using = router.db_for_write(type(instance), instance=instance)
    connection = connections[using]
    sql, fields, returns_pk = _statement(type(instance), connection.alias, connection.vendor)
    instance._prepare_related_fields_for_save(operation_name="save")  # as save(): no unsaved related object
    values = _values(instance, fields, connection)
    expressions = any(hasattr(value, "resolve_expression") for value in values)
    if followed_by is not None and (connection.vendor != "postgresql" or (expressions and provided is None)):
        with transaction.atomic(using=using):
            if not insert_new(instance, provided=provided):
                return False
            return insert_new(followed_by)
    if provided is None and expressions:
        instance.save(force_insert=True, using=using)  # an expression needs the compiler
        return True
    common_tables = []
    if provided is not None:
        if connection.vendor != "postgresql":
            raise ValueError("An INSERT provided by another statement needs PostgreSQL.")
        condition, parameters = provided
        common_tables.append(f"provided AS ({condition})")
        sql = _selected_from(sql, "provided")
        values = [*parameters, *values]
    if followed_by is not None:
        common_tables.append(f"inserted AS ({sql})")
        sql, following_values = _following(followed_by, type(instance)._meta.pk.column, connection)
        values = [*values, *following_values]
    if common_tables:
        sql = f"WITH {', '.join(common_tables)} {sql}"
    with _cursor(connection) as cursor:
        cursor.execute(sql, values)
        if returns_pk:
            row = cursor.fetchone()
            if row is None:
                return False
            pk = row[0]
        else:
            pk = connection.ops.last_insert_id(cursor, "", "")
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using
    if followed_by is not None:
        followed_by.pk = pk
        followed_by._state.adding = False
        followed_by._state.db = using
    return True


def _following(row: Model, pk_column: str, connection) -> tuple[str, list]:
    """`row`'s INSERT, its link to the row `inserted` just before taken from that row, and its other values."""
    sql, fields = _following_statement(type(row), pk_column, connection.alias, connection.vendor)
    return sql, _values(row, fields, connection)


@functools.cache
def _following_statement(model: type[Model], pk_column: str, alias: str, vendor: str) -> tuple[str, tuple]:
    """`model`'s INSERT from the common table `inserted`, its link column taken from there; and its other fields."""
    connection = connections[alias]
    sql, fields, _returns_pk = _statement(model, alias, vendor)
    link = model._meta.pk
    linked = f"inserted.{connection.ops.quote_name(pk_column)}"
    selected = ", ".join(linked if field is link else "%s" for field, _plain in fields)
    head, _values_placeholders, returning = _insert_parts(sql)
    return (
        f"{head} SELECT {selected} FROM inserted RETURNING {returning}",
        tuple((field, plain) for field, plain in fields if field is not link),
    )


def _values(instance: Model, fields: tuple, connection) -> list:
    """Each field's value as Django's compiler prepares it (`pre_save`, then `get_db_prep_save`).

    A plain field's None, or a value of exactly its plain type, is sent as it is: that is what the preparing
    returns for it, at a fraction of the cost (it was a tenth of a submission for the generation's 43 fields).
    """
    values = []
    for field, plain_type in fields:
        if plain_type is None:
            values.append(field.get_db_prep_save(field.pre_save(instance, True), connection))
            continue
        value = getattr(instance, field.attname)
        if value is None or type(value) is plain_type:
            values.append(value)
        else:
            values.append(field.get_db_prep_save(value, connection))
    return values


def _plain_type(field: Field) -> type | None:
    """The type whose values `field` sends unchanged (Django's own classes only, never a subclass); else None."""
    field_class = type(field)
    if field_class is models.ForeignKey:
        return int if type(field.target_field) in (models.AutoField, models.BigAutoField) else None
    if field_class is models.DateTimeField:  # its pre_save sets auto_now fields; an unset one sends None as is
        return type(None) if not (field.auto_now or field.auto_now_add) else None
    return PLAIN_TYPES.get(field_class)


# Integer fields are not among them: on PostgreSQL Django sends their values typed by column (psycopg's Int2...).
PLAIN_TYPES = {models.CharField: str, models.TextField: str, models.BooleanField: bool}


def _cursor(connection):
    """A cursor that prepares the statement once per session where the backend offers it (ours on PostgreSQL)."""
    preparing_statements = getattr(connection, "preparing_statements", None)
    if preparing_statements is None:
        return connection.cursor()
    with preparing_statements():
        return connection.cursor()


def _selected_from(insert: str, table: str) -> str:
    """`INSERT … VALUES (…) RETURNING …` made to insert once for each row of `table` (a common table)."""
    head, values, returning = _insert_parts(insert)
    return f"{head} SELECT {values} FROM {table} RETURNING {returning}"


def _insert_parts(insert: str) -> tuple[str, str, str]:
    """`INSERT INTO t (…)`, the placeholders and the RETURNING columns of `INSERT … VALUES (…) RETURNING …`."""
    head, _, rest = insert.partition(" VALUES (")
    values, _, returning = rest.partition(") RETURNING ")
    return head, values, returning


@functools.cache
def _statement(model: type[Model], alias: str, vendor: str) -> tuple[str, tuple, bool]:
    connection = connections[alias]
    meta = model._meta
    fields = tuple(
        field for field in meta.local_concrete_fields if field is not meta.auto_field and not field.generated
    )
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
    returns_pk = connection.features.can_return_columns_from_insert
    if returns_pk:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, tuple((field, _plain_type(field)) for field in fields), returns_pk
