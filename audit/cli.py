"""The ``rule-audit`` command: Flask's CLI (run, routes, shell) plus our own commands.

Commands are a thin layer over the domain functions; domain errors become a one-line message
and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from audit import demo
from audit.core.errors import AuditError
from audit.domain import figures, organisation, register, users
from audit.domain.register import RuleFilter
from audit.store import backup
from audit.store.db import open_app_db
from audit.xlsx import export as xlsx_export
from audit.xlsx import importer as xlsx_import
from audit.xlsx import reader as xlsx_reader
from audit.xlsx import template as xlsx_template


class CommandError(click.ClickException):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, code: int = 1) -> NoReturn:
    """Stop with one line on stderr and a non-zero exit."""
    raise CommandError(message, code)


def _progress(length: int, label: str):
    """A progress bar on a terminal (stderr); nothing at all when output goes to a file."""
    return click.progressbar(
        length=length, label=label, hidden=not sys.stderr.isatty(), file=sys.stderr
    )


def _db():
    return open_app_db(current_app)


@click.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(users.ROLES), help="What the user may do.")
@click.option("--team", "teams", multiple=True, help="A team the user belongs to (repeatable).")
@click.option("--name", "display_name", default="", help="Full name shown in the app.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (hidden, twice) when not given.",
)
@with_appcontext
def create_user_command(
    username: str, role: str, teams: tuple[str, ...], display_name: str, password: str
) -> None:
    """Create a user account."""
    db = _db()
    try:
        team_ids = organisation.resolve_team_names(db, list(teams))
        user = users.create_user(
            db,
            None,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            team_ids=team_ids,
        )
    except AuditError as error:
        fail(str(error))
    finally:
        db.close()
    click.echo(f"Created {user.role} {user.username}")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load a demo nursing home (only into an empty database) and print its logins once."""
    db = _db()
    try:
        logins = demo.seed(db, current_app.config["SECRET_KEY"])
    except AuditError as error:
        fail(str(error))
    finally:
        db.close()
    _print_logins(logins)


def _print_logins(logins: list[tuple[str, str, str]]) -> None:
    click.echo("Demo logins (shown only now; change them before real use):")
    for username, role, password in logins:
        click.echo(f"  {username:<10} {role:<8} {password}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--demo", "with_demo", is_flag=True, help="Seed the demo organisation when empty.")
@with_appcontext
def serve_command(host: str, port: int, threads: int, with_demo: bool) -> None:
    """Serve the app with waitress."""
    import waitress

    app: Flask = current_app._get_current_object()
    if with_demo:
        db = _db()
        try:
            if users.count_users(db) == 0:
                _print_logins(demo.seed(db, current_app.config["SECRET_KEY"]))
            else:
                click.echo("The database has users already; the demo was not loaded.")
        finally:
            db.close()
    click.echo(f"Regelaudit on http://{host}:{port}/  (database {app.config['DATABASE']})")
    # The lock tells `rule-audit restore` that this database is in use.
    with backup.server_lock(app.config["DATABASE"]):
        waitress.serve(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="rule-audit",
            # Waitress drops X-Forwarded-* unless told otherwise; with TRUSTED_PROXIES set,
            # ProxyFix (audit/ratelimit.py) reads exactly as many entries as there are proxies.
            clear_untrusted_proxy_headers=not app.config["TRUSTED_PROXIES"],
        )


def _scope(db, team: str | None, location: str | None) -> figures.Scope:
    """Team and location names to a figures scope; an unknown name stops the command."""
    team_id = location_id = None
    if team is not None:
        found = organisation.find_team(db, team)
        if found is None:
            fail(f"Unknown team: {team}")
        team_id = found["id"]
    if location is not None:
        found = organisation.find_location(db, location)
        if found is None:
            fail(f"Unknown location: {location}")
        location_id = found["id"]
    return figures.Scope(team=team_id, location=location_id)


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.option("--team", help="Only the rules that apply to this team.")
@click.option("--location", help="Only the rules that apply at this location.")
@with_appcontext
def stats_command(as_json: bool, team: str | None, location: str | None) -> None:
    """Print the dashboard's headline figures."""
    db = _db()
    try:
        result = figures.headline(db, _scope(db, team, location))
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    share = result["self_invented_share"]
    coverage = result["coverage"]
    lines = [
        ("Rules in force", f"{result['total']}"),
        ("Traced", f"{result['traced']}" + (f" ({coverage:.0%})" if coverage is not None else "")),
        ("Self-invented", f"{result['self_invented']}"),
        (
            "Self-invented share",
            f"{share:.0%} of traced rules" if share is not None else "not yet known",
        ),
        ("Myths", f"{result['myths']}"),
        (
            "Self-invented time",
            f"{result['minutes_per_week_self_invented']} min/week"
            f" ({result['hours_per_week_self_invented']:.1f} h)",
        ),
        ("Given back", f"{result['hours_per_week_given_back']:.1f} h/week"),
    ]
    reference = result["reference_share"]
    if reference is not None:  # an organisation without a reference shows none
        source = result["reference_label"] or "source not given"
        lines.insert(4, ("Reference share", f"{reference:.0%} ({source})"))
    for label, value in lines:
        click.echo(f"{label + ':':<22}{value}")


def _xlsx_target(out: str, what: str) -> None:
    """Refuse a target whose name says it is not a workbook (report.csv would hold xlsx bytes
    that no program opens as the name promises)."""
    if Path(out).suffix.lower() != ".xlsx":
        fail(f"{out} is not an .xlsx file name; {what} is an Excel workbook")


@click.command("export-report")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--lang", default="en", show_default=True, help="en or nl: sheet names, headers, labels."
)
@click.option("--team", help="Only the rules that apply to this team.")
@click.option("--location", help="Only the rules that apply at this location.")
@with_appcontext
def export_report_command(out: str, lang: str, team: str | None, location: str | None) -> None:
    """Write the Excel audit report (Summary, Register, Sessions, Decisions, History)."""
    _xlsx_target(out, "the report")
    if lang not in xlsx_export.LANGUAGES:
        fail(f"Unknown language: {lang} (use en or nl)")
    db = _db()
    try:
        scope = _scope(db, team, location)
        rule_filter = RuleFilter(team=scope.team, location=scope.location)
        target = Path(out)
        try:
            # Written next to the target and renamed at the end: a failed export leaves no
            # half-written file, and an unwritable folder is reported before any work.
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed below
                dir=target.parent, prefix=".export-", suffix=".xlsx", delete=False
            )
        except OSError as error:
            fail(f"Cannot write {out}: {error.strerror or error}")
        total = register.count(db, rule_filter)
        try:
            with handle, _progress(total, "Exporting rules") as bar:
                head = xlsx_export.export_report(
                    db, handle, lang=lang, rule_filter=rule_filter, progress=bar.update
                )
            os.replace(handle.name, target)
        except OSError as error:
            Path(handle.name).unlink(missing_ok=True)
            fail(f"Cannot write {out}: {error.strerror or error}")
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
    finally:
        db.close()
    click.echo(f"Wrote {out}: {head['total']} rules in force, {total} in the register sheet")


@click.command("import-template")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--lang", default="en", show_default=True, help="en or nl: headers and lists.")
@with_appcontext
def import_template_command(out: str, lang: str) -> None:
    """Write the Excel template for importing rules."""
    _xlsx_target(out, "the template")
    if lang not in xlsx_export.LANGUAGES:
        fail(f"Unknown language: {lang} (use en or nl)")
    db = _db()
    try:
        xlsx_template.write_template(db, out, lang)
    except OSError as error:
        fail(f"Cannot write {out}: {error.strerror or error}")
    finally:
        db.close()
    click.echo(f"Wrote {out}")


def _print_plan(plan: xlsx_import.ImportPlan) -> None:
    counts = plan.summary()
    click.echo(
        f"Sheet {plan.sheet!r}, header in row {plan.header_row}: {counts['create']} to create,"
        f" {counts['update']} to update, {counts['unchanged']} unchanged,"
        f" {counts['duplicate']} already in the register or the file,"
        f" {counts['invalid']} with problems"
    )
    if plan.dated_by_horizon:
        click.echo(
            f"{plan.dated_by_horizon} rules get review date {plan.horizon_date.isoformat()} from"
            f" the organisation's horizon of {plan.horizon_months} months"
        )
    if plan.ignored_columns:
        click.echo(f"Ignored columns: {', '.join(plan.ignored_columns)}")
    for label, names in (
        ("New categories", plan.new_categories),
        ("New protocols", plan.new_protocols),
        ("New teams", plan.new_teams),
        ("New locations", plan.new_locations),
    ):
        if names:
            click.echo(f"{label}: {', '.join(names)}")
    for row in plan.invalid:
        for column, message in row.errors:
            click.echo(f"  Row {row.row}, {column}: {message}")
    for row in plan.repeated:
        if row.duplicate_of:
            where = "archive" if row.duplicate_of.archived else "register"
            said = f"already in the {where} as {row.duplicate_of.code}"
        else:
            said = f"same as row {row.same_as_row}"
        click.echo(
            f"  Row {row.row}: {said}{'' if row.action == 'duplicate' else ', created again'}"
        )
    if plan.repeated and not plan.create_duplicates:
        click.echo(
            "Rows already in the register or the file are left out; --create-duplicates"
            " creates them as new rules."
        )


@click.command("import-rules")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows when some are not.")
@click.option("--create-teams", is_flag=True, help="Create teams and locations that do not exist.")
@click.option(
    "--create-duplicates",
    is_flag=True,
    help="Also create rows without a code whose title and scope match a rule already there.",
)
@click.option("--sheet", help="The sheet to read (default: the first with a known header).")
@with_appcontext
def import_rules_command(
    file: str,
    dry_run: bool,
    skip_invalid: bool,
    create_teams: bool,
    create_duplicates: bool,
    sheet: str | None,
) -> None:
    """Import rules from an Excel workbook.

    Exit status: 0 when everything asked was imported (or would be, with --dry-run), 1 when
    rows were invalid and nothing was written, 2 when the file cannot be read.
    """
    path = Path(file)
    if not path.is_file():
        fail(f"Cannot read {file}: no such file", 2)
    db = _db()
    try:
        try:
            plan = xlsx_import.read_plan(
                db,
                path,
                filename=path.name,
                sheet=sheet,
                create_teams=create_teams,
                create_duplicates=create_duplicates,
                command_line=True,
                max_bytes=current_app.config["IMPORT_MAX_BYTES"],
                max_rows=current_app.config["IMPORT_MAX_ROWS"],
                limits=xlsx_reader.Limits.from_config(current_app.config),
            )
        except xlsx_import.ImportFileError as error:
            fail(f"Cannot import {file}: {error}", 2)
        _print_plan(plan)
        if plan.invalid and not skip_invalid:
            fail("Nothing was imported: fix the rows above, or use --skip-invalid.", 1)
        if dry_run:
            click.echo("Dry run: nothing was written.")
            return
        to_write = plan.count("create") + plan.count("update")
        with _progress(to_write, "Importing rules") as bar:
            counts = xlsx_import.apply_plan(
                db, None, plan, skip_invalid=skip_invalid, progress=bar.update
            )
    finally:
        db.close()
    click.echo(
        f"Imported {file}: {counts['create']} created, {counts['update']} updated,"
        f" {counts['unchanged']} unchanged, {counts['duplicate']} already in the register or the"
        f" file, {counts['skipped']} skipped"
    )


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(out: str) -> None:
    """Copy the database to OUT (safe while the server runs)."""
    try:
        backup.backup(current_app.config["DATABASE"], out)
    except backup.BackupError as error:
        fail(str(error))
    click.echo(f"Backed up {current_app.config['DATABASE']} to {out}")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(file: str, yes: bool) -> None:
    """Replace the database with the backup FILE (stop the server first)."""
    database = current_app.config["DATABASE"]
    if not yes:
        click.confirm(
            f"Replace {database} with {file}? Everything since the backup is lost", abort=True
        )
    try:
        backup.restore(file, database)
    except backup.BackupError as error:
        fail(str(error))
    click.echo(f"Restored {database} from {file}")


def init_app(app: Flask) -> None:
    for command in (
        create_user_command,
        seed_demo_command,
        serve_command,
        stats_command,
        export_report_command,
        import_template_command,
        import_rules_command,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)


def _create_app():
    from audit import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """Regelaudit: from rules to relations."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: click errors become one line, never a usage dump."""
    try:
        result = cli.main(args=argv, prog_name="rule-audit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as error:
        click.echo(f"Error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    sys.exit(result if isinstance(result, int) else 0)
