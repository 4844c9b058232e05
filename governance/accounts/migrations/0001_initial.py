from django.db import migrations, models


class Migration(migrations.Migration):
    """LoginThrottle, moved here from the dashboard: its existing table is taken over, then renamed."""

    initial = True

    dependencies = [
        ("dashboard", "0002_login_throttle_moves_to_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="LoginThrottle",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        (
                            "subject",
                            models.CharField(
                                help_text="'user:<username>' or 'ip:<address>'.", max_length=200, unique=True
                            ),
                        ),
                        ("failures", models.PositiveIntegerField(default=0)),
                        ("window_started_at", models.DateTimeField()),
                        ("locked_until", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={"db_table": "dashboard_loginthrottle"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="loginthrottle", table="accounts_loginthrottle"),
    ]
