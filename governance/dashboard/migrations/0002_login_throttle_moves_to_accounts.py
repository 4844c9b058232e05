from django.db import migrations


class Migration(migrations.Migration):
    """LoginThrottle moved to the accounts app; its table stays and accounts' first migration takes it over."""

    dependencies = [
        ("dashboard", "0001_login_throttle"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="LoginThrottle")],
            database_operations=[],
        ),
    ]
