"""The register, rule pages, the rule form and the tracing work-list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from audit.access import EDITORS, READERS, allow
from audit.core import clock
from audit.domain import (
    actions,
    categories,
    experiments,
    fields,
    organisation,
    origins,
    protocols,
    register,
    rule_reports,
    rules,
)
from audit.domain.history import HistoryLookup
from audit.domain.vocabulary import IMPACTS, STATUSES
from audit.store.db import get_db
from audit.views.helpers import (
    MaxLength,
    attempt,
    choices,
    form_version,
    get_or_404,
    id_arg,
    int_id,
    int_or_none,
)

bp = Blueprint("rules", __name__)


def _checkboxes(label, **kwargs) -> SelectMultipleField:
    return SelectMultipleField(
        label, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), **kwargs
    )


def _origin_choices(empty_label) -> list:
    return choices([("", empty_label), *origins.ORIGINS.items()])


def _reference_choices(db) -> dict[str, Callable[[], list[tuple[int, str]]]]:
    """(id, name) pairs for a reference field's drop-down or checkboxes, per table."""
    return {
        "categories": lambda: [(c["id"], c["name"]) for c in categories.list_categories(db)],
        "protocols": lambda: [(p["id"], _protocol_label(p)) for p in protocols.list_protocols(db)],
        "teams": lambda: [(t["id"], t["name"]) for t in organisation.list_teams(db)],
        "locations": lambda: [(loc["id"], loc["name"]) for loc in organisation.list_locations(db)],
    }


def _form_field(f: fields.Field) -> Any:
    """The form field of one line of the field table, by its kind."""
    length = [MaxLength(f.max_length)] if f.max_length else []
    required = [DataRequired()] if f.required else []
    if f.kind == fields.TEXT:
        return StringField(f.label, validators=[*required, *length])
    if f.kind == fields.LONG_TEXT:
        return TextAreaField(f.label, validators=[*required, *length])
    if f.kind == fields.INTEGER:
        return IntegerField(f.label, validators=[Optional(), NumberRange(min=0, max=f.maximum)])
    if f.kind == fields.DATE:
        return DateField(f.label, validators=[Optional()])
    if f.kind == fields.CHOICE:
        return SelectField(f.label)
    if f.kind == fields.CHOICES:
        return _checkboxes(f.label)
    if f.kind == fields.REFERENCE:
        return SelectField(f.label, coerce=int_or_none)
    if f.kind == fields.REFERENCES:
        return _checkboxes(f.label, coerce=int_id)
    raise ValueError(f"no form field for kind {f.kind}")


def _input_attributes(f: fields.Field) -> dict[str, Any]:
    """What the template passes to a field's input, by kind (rows, type=date, ...)."""
    if f.kind == fields.LONG_TEXT:
        return {"rows": f.rows}
    if f.kind == fields.INTEGER:
        return {"type": "number", "min": 0, "inputmode": "numeric"}
    if f.kind == fields.DATE:
        return {"type": "date"}
    return {}


class RuleFormBase(FlaskForm):
    """The rule form; its fields are made from the field table by ``rule_form``."""

    version = HiddenField()
    on_form: tuple[fields.Field, ...] = ()

    def set_choices(self, db) -> None:
        references = _reference_choices(db)
        for f in self.on_form:
            if f.kind in (fields.REFERENCE, fields.REFERENCES):
                pairs = references[f.table]()
            elif f.kind in (fields.CHOICE, fields.CHOICES):
                pairs = list(f.choices.items())
            else:
                continue
            if f.kind in (fields.REFERENCE, fields.CHOICE) and f.empty is not None:
                pairs = [("", f.empty), *pairs]
            self[f.key].choices = choices(pairs)

    def values(self) -> dict[str, Any]:
        return {f.key: self[f.key].data for f in self.on_form}

    def groups(
        self,
        mirror: bool = False,
        hints: dict[str, Any] | None = None,
        attributes: dict[str, dict[str, Any]] | None = None,
        leave_out: tuple[str, ...] = (),
    ) -> list[tuple[str, Any, list[tuple[Any, Any, dict[str, Any]]]]]:
        """(group key, legend, [(form field, hint, input attributes)]) in the form's order.

        ``mirror`` (a new rule): the mirror questions follow the rule's title and text, in a
        group of their own (docs/design.md, "The mirror check"); ``hints`` and ``attributes``
        replace or add to a field's own; ``leave_out`` names fields the page does not show."""
        hints, attributes = hints or {}, attributes or {}
        by_key = {f.key: f for f in self.on_form}
        asked = [k for k in rules.MIRROR_QUESTIONS if k in by_key] if mirror else []

        def member(f: fields.Field) -> tuple[Any, Any, dict[str, Any]]:
            return (
                self[f.key],
                hints.get(f.key, f.hint),
                {**_input_attributes(f), **attributes.get(f.key, {})},
            )

        listed = []
        for group, legend in fields.FORM_GROUPS.items():
            listed.append(
                (
                    group,
                    legend,
                    [
                        member(f)
                        for f in self.on_form
                        if f.group == group and f.key not in asked and f.key not in leave_out
                    ],
                )
            )
            if group == "rule" and asked:  # named first, then looked at in the mirror
                listed.append(("mirror", MIRROR_LEGEND, [member(by_key[k]) for k in asked]))
        return listed


MIRROR_LEGEND = _l("Before it is added: the mirror questions")


_form_class: tuple[tuple[fields.Field, ...], type[RuleFormBase]] | None = None


def rule_form_class() -> type[RuleFormBase]:
    """The RuleForm of the current field table, made once per table."""
    global _form_class
    table = fields.rule_fields()
    if _form_class is None or _form_class[0] is not table:
        on_form = tuple(f for f in table if f.editable and f.group is not None)
        attributes: dict[str, Any] = {f.key: _form_field(f) for f in on_form}
        attributes["on_form"] = on_form
        _form_class = (table, type("RuleForm", (RuleFormBase,), attributes))
    return _form_class[1]


class TraceForm(FlaskForm):
    verified_origin = SelectField(fields.rule_field("verified_origin").label)
    source_reference = StringField(
        fields.rule_field("source_reference").label, validators=[MaxLength(rules.REFERENCE_MAX)]
    )
    review_due = DateField(_l("Next review"), validators=[Optional()])
    version = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.verified_origin.choices = _origin_choices(_("(not traced yet)"))


def _protocol_label(protocol: dict) -> str:
    return (
        f"{protocol['name']} ({protocol['version']})" if protocol["version"] else protocol["name"]
    )


# --- the register ---------------------------------------------------------------------------


def _flag(value: str | None) -> bool | None:
    return {"1": True, "0": False}.get(value or "")


def filter_from_args(args: MultiDict) -> register.RuleFilter:
    """The filter in the URL. A category, protocol, team or location that does not exist is a
    404 (``id_arg``); other values that make no sense are ignored, not an error page."""

    def key(name: str, allowed) -> str | None:
        value = args.get(name) or None
        return value if value in allowed else None

    return register.RuleFilter(
        q=(args.get("q") or "").strip()[:200],
        category=id_arg(args, "category", categories.get_category),
        protocol=id_arg(args, "protocol", protocols.get_protocol),
        team=id_arg(args, "team", organisation.get_team),
        location=id_arg(args, "location", organisation.get_location),
        perceived=key("perceived", origins.ORIGINS),
        verified=key("verified", [*origins.ORIGINS, "none"]),
        traced=_flag(args.get("traced")),
        self_invented=_flag(args.get("self_invented")),
        myth=_flag(args.get("myth")),
        status=key("status", STATUSES),
        impact=key("impact", IMPACTS),
        overdue=args.get("overdue") == "1",
        archived=args.get("archived") == "1",
        reported=_at_least(args.get("reported")),
    )


def _at_least(value: str | None) -> int | None:
    """A "reported by at least N colleagues" filter: a positive number, else no filter."""
    number = int_or_none(value)
    return number if number is not None and 0 < number <= REPORTED_MAX else None


REPORTED_MAX = 1000
REPORTED_STEPS = (1, 2, 3, 5)


def filter_options(db) -> dict[str, list[tuple[int, str]]]:
    """(id, name) pairs for the filter drop-downs."""
    return {
        "categories": [
            (c["id"], c["name"]) for c in categories.list_categories(db, include_inactive=True)
        ],
        "protocols": [(p["id"], _protocol_label(p)) for p in protocols.list_protocols(db)],
        "teams": [(t["id"], t["name"]) for t in organisation.list_teams(db)],
        "locations": [(loc["id"], loc["name"]) for loc in organisation.list_locations(db)],
        "reported": [(n, _("at least %(n)s", n=n)) for n in REPORTED_STEPS],
    }


@bp.route("/rules")
@allow(*READERS)
def register_page():
    db = get_db()
    rule_filter = filter_from_args(request.args)
    sort = request.args.get("sort", "code")
    sort = sort if sort in register.SORT_COLUMNS else "code"
    descending = request.args.get("dir") == "desc"
    per_page = current_app.config["PER_PAGE"]
    page = register.search(
        db,
        rule_filter,
        sort=sort,
        descending=descending,
        page=int_or_none(request.args.get("page")) or 1,
        per_page=register.page_size(int_or_none(request.args.get("per_page")), per_page),
    )
    return render_template(
        "rules/register.html",
        page=page,
        f=rule_filter,
        args=rule_filter.to_args(),
        sort=sort,
        descending=descending,
        options=filter_options(db),
        page_sizes=register.page_sizes(per_page),
        suspensions=experiments.open_for_rules(db, [row["id"] for row in page.rows]),
    )


# --- one rule -------------------------------------------------------------------------------


# The fields rules/detail.html shows in a place and form of their own; any other editable field
# of the table is listed after them, shown as the history shows it.
_LAID_OUT_ON_RULE_PAGE = frozenset(
    (
        "code",
        "title",
        "description",
        "category_id",
        "protocol_id",
        "team_ids",
        "location_ids",
        "owner",
        "minutes_per_week",
        "relation_impact",
        "values_touched",
        "status",
        "introduced_on",
        "review_due",
        "perceived_origin",
        "verified_origin",
        "source_reference",
        "evidence_note",
        "problem",
        "alternatives",
    )
)


@bp.route("/rules/<int:rule_id>")
@allow(*READERS)
def detail(rule_id: int):
    db = get_db()
    rule = get_or_404(rules.get_rule, rule_id)
    return render_template(
        "rules/detail.html",
        rule=rule,
        history=rules.history(db, rule_id),
        lookup=HistoryLookup(db),
        more_fields=[
            f for f in fields.rule_fields() if f.editable and f.key not in _LAID_OUT_ON_RULE_PAGE
        ],
        reported=rule_reports.reported(db, rule_id),
        open_actions=actions.open_for_rule(db, rule_id),
        rule_experiments=experiments.for_rule(db, rule_id),
        # What colleagues wrote is for those who triage; everyone else sees the count.
        reports=(
            rule_reports.reports_of_rule(db, rule_id)
            if rule_reports.may_triage(current_user)
            else []
        ),
    )


def _save_form(
    form: RuleFormBase, rule: rules.Rule | None, report: rule_reports.Report | None = None
):
    db = get_db()
    if report is not None:  # the rule and the report's acceptance in one transaction
        saved = attempt(
            form,
            lambda: rule_reports.accept_as_new_rule(
                db, current_user, report.id, by_hand=True, **form.values()
            ),
        )
    elif rule is None:
        saved = attempt(
            form, lambda: rules.create_rule(db, current_user, by_hand=True, **form.values())
        )
    else:
        saved = attempt(
            form,
            lambda: rules.update_rule(
                db,
                current_user,
                rule.id,
                expected_version=form_version(form.version.data),
                by_hand=True,
                **form.values(),
            ),
        )
    if saved is None:
        return None
    flash(_("Rule %(code)s has been saved.", code=saved.code), "success")
    return redirect(url_for("rules.detail", rule_id=saved.id))


def _unconfirmed_same_title(
    db, form: RuleFormBase, rule: rules.Rule | None = None
) -> list[rules.SameTitle]:
    """Other rules that already have the title typed, unless the user ticked "save anyway" for
    this very title (a changed title is checked again). A rule being edited is checked only
    when its title changes: it keeps a title it shares already without a word."""
    if request.form.get("same_title_ok") == rules.title_key(form.title.data):
        return []
    if rule is not None and rules.title_key(form.title.data) == rules.title_key(rule.title):
        return []
    found = rules.find_same_title(db, [form.values()])[0]
    return [match for match in found if rule is None or match.id != rule.id]


@bp.route("/rules/new", methods=["GET", "POST"])
@allow(*EDITORS)
def new():
    db = get_db()
    report = _report_to_accept()
    if report is not None and not report.untriaged and request.method == "GET":
        flash(_("This report has been triaged or withdrawn already."), "warning")
        return redirect(url_for("rule_reports.inbox_report", report_id=report.id))
    form = rule_form_class()(
        data=rule_reports.rule_prefill(report) if report else {"status": "active"}
    )
    form.set_choices(db)
    same_title = []
    if form.validate_on_submit():
        same_title = _unconfirmed_same_title(db, form)
        if not same_title and (response := _save_form(form, None, report)):
            return response
    return render_template(
        "rules/form.html",
        form=form,
        rule=None,
        groups=_mirror_groups(db, form),
        proposed=organisation.rule_settings(db)["new_rules_proposed"],
        report=report,
        same_title=same_title,
        same_title_key=rules.title_key(form.title.data),
    )


def _mirror_groups(db, form: RuleFormBase) -> list:
    """The new-rule form's groups: the mirror questions first, saying what is required and
    how far ahead the review may be; without the status while new rules start as proposed."""
    settings = organisation.rule_settings(db)
    latest = organisation.horizon_date(db)
    form.perceived_origin.choices = _origin_choices(_("(choose one)"))
    hints = {
        "problem": _("Required. What goes wrong, or would go wrong, without this rule?"),
        "perceived_origin": _(
            "Required. Where do you think it comes from? Choose Unknown if you do not know."
        ),
        "verified_origin": _("If you know it for certain: where it really comes from."),
        "review_due": _(
            "Required: when the team looks at this rule again, on %(date)s at the latest"
            " (the organisation's horizon of %(n)s months).",
            date=format_date(latest),
            n=settings["review_horizon_months"],
        ),
    }
    attributes = {"review_due": {"min": clock.today().isoformat(), "max": latest.isoformat()}}
    leave_out = ("status",) if settings["new_rules_proposed"] else ()
    return form.groups(mirror=True, hints=hints, attributes=attributes, leave_out=leave_out)


def _report_to_accept() -> rule_reports.Report | None:
    """The report a new rule is made from: ``?report=`` on the inbox's link, then the form's
    hidden ``report_id``; None for a rule typed from scratch."""
    raw = request.form.get("report_id") if request.method == "POST" else request.args.get("report")
    if raw in (None, ""):
        return None
    report_id = int_or_none(raw)
    if report_id is None:
        abort(404)
    return get_or_404(rule_reports.get_report, report_id)


@bp.route("/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@allow(*EDITORS)
def edit(rule_id: int):
    rule = get_or_404(rules.get_rule, rule_id)
    if rule.archived:
        flash(_("This rule is archived. Restore it before changing it."), "warning")
        return redirect(url_for("rules.detail", rule_id=rule_id))
    db = get_db()
    form = rule_form_class()(data={**rule.values(), "version": rule.version})
    form.set_choices(db)
    same_title = []
    if form.validate_on_submit():
        same_title = _unconfirmed_same_title(db, form, rule)
        if not same_title and (response := _save_form(form, rule)):
            return response
    return render_template(
        "rules/form.html",
        form=form,
        rule=rule,
        same_title=same_title,
        same_title_key=rules.title_key(form.title.data),
        groups=form.groups(),
    )


@bp.route("/rules/<int:rule_id>/archive", methods=["POST"])
@allow(*EDITORS)
def archive(rule_id: int):
    get_or_404(rules.get_rule, rule_id)
    rule = rules.archive_rule(get_db(), current_user, rule_id)
    flash(
        _("Rule %(code)s has been archived. It can be restored from the archive.", code=rule.code),
        "success",
    )
    return redirect(url_for("rules.detail", rule_id=rule_id))


@bp.route("/rules/<int:rule_id>/restore", methods=["POST"])
@allow(*EDITORS)
def restore(rule_id: int):
    get_or_404(rules.get_rule, rule_id)
    rule = rules.restore_rule(get_db(), current_user, rule_id)
    flash(_("Rule %(code)s is back in the register.", code=rule.code), "success")
    return redirect(url_for("rules.detail", rule_id=rule_id))


# --- tracing --------------------------------------------------------------------------------


def _worklist(db, page_args: MultiDict) -> dict[str, register.Page]:
    untraced = register.search(
        db,
        register.RuleFilter(traced=False),
        sort="created_at",
        page=int_or_none(page_args.get("page")) or 1,
        per_page=25,
    )
    overdue = register.search(
        db,
        register.RuleFilter(overdue=True),
        sort="review_due",
        page=int_or_none(page_args.get("overdue_page")) or 1,
        per_page=25,
    )
    return {"untraced": untraced, "overdue": overdue}


@bp.route("/tracing")
@allow(*EDITORS)
def tracing():
    db = get_db()
    return render_template(
        "rules/tracing.html",
        lists=_worklist(db, request.args),
        failed={},
        ended=experiments.waiting_for_decision(db),
    )


@bp.route("/rules/<int:rule_id>/trace", methods=["POST"])
@allow(*EDITORS)
def trace(rule_id: int):
    db = get_db()
    rule = get_or_404(rules.get_rule, rule_id)
    if rule.archived:  # as the rule form: an archived rule is restored before it changes
        flash(_("This rule is archived. Restore it before changing it."), "warning")
        return redirect(url_for("rules.tracing", **_page_args(request.form)))
    form = TraceForm(prefix=f"r{rule_id}")
    # A form without the review date field (an older page) leaves the date as it is.
    review_due = form.review_due.data if form.review_due.raw_data else rules.UNCHANGED
    traced = form.validate() and attempt(
        form,
        lambda: rules.trace(
            db,
            current_user,
            rule_id,
            verified_origin=form.verified_origin.data,
            source_reference=form.source_reference.data,
            review_due=review_due,
            expected_version=form_version(form.version.data),
            by_hand=True,
        ),
    )
    if traced:
        flash(_("The origin of %(code)s has been recorded.", code=rule.code), "success")
        if traced.review_due != rule.review_due and traced.review_due is not None:
            flash(
                _(
                    "The next review of %(code)s is on %(date)s.",
                    code=rule.code,
                    date=format_date(traced.review_due),
                ),
                "success",
            )
        if traced.review_overdue:
            flash(
                _(
                    "%(code)s is still past its review date. Set the next review date to take"
                    " it off the overdue list.",
                    code=rule.code,
                ),
                "warning",
            )
        return redirect(url_for("rules.tracing", **_page_args(request.form)))
    # Re-render the work-list with this row's input and errors next to it. A rule that left
    # both lists meanwhile (a colleague traced it) is shown on its own, so that neither the
    # input nor the reason it was refused vanishes.
    lists = _worklist(db, request.form)
    listed = {row["id"] for page in lists.values() for row in page.rows}
    return render_template(
        "rules/tracing.html",
        lists=lists,
        failed={rule_id: form},
        unlisted=[] if rule_id in listed else [asdict(rules.get_rule(db, rule_id))],
    )


def _page_args(form: MultiDict) -> dict[str, str]:
    return {k: form[k] for k in ("page", "overdue_page") if form.get(k, "").isdigit()}


def trace_form_for(rule_row: dict, failed: dict) -> TraceForm:
    """The quick form of one work-list row: the failed one keeps its input and errors."""
    if rule_row["id"] in failed:
        return failed[rule_row["id"]]
    return TraceForm(
        formdata=None,
        prefix=f"r{rule_row['id']}",
        data={
            "verified_origin": rule_row["verified_origin"] or "",
            "source_reference": rule_row["source_reference"],
            "review_due": rule_row["review_due"] and date.fromisoformat(rule_row["review_due"]),
            "version": rule_row["version"],
        },
        meta={"csrf": False},
    )


@bp.app_context_processor
def _helpers():
    return {"trace_form_for": trace_form_for}


# --- changing many rules at once ------------------------------------------------------------


class BulkForm(FlaskForm):
    status = SelectField(fields.rule_field("status").label)
    category_id = SelectField(fields.rule_field("category_id").label)
    owner = StringField(fields.rule_field("owner").label, validators=[MaxLength(rules.OWNER_MAX)])
    review_due = DateField(fields.rule_field("review_due").label, validators=[Optional()])
    selection = HiddenField()

    def set_choices(self, db) -> None:
        keep = ("", _("(leave as it is)"))
        self.status.choices = choices([keep, *STATUSES.items()])
        self.category_id.choices = choices(
            [keep] + [(str(c["id"]), c["name"]) for c in categories.list_categories(db)]
        )

    def changes(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if self.status.data:
            changes["status"] = self.status.data
        if self.category_id.data:
            changes["category_id"] = int_or_none(self.category_id.data)
        if (self.owner.data or "").strip():
            changes["owner"] = self.owner.data
        if self.review_due.data:
            changes["review_due"] = self.review_due.data
        return changes


BULK_LISTED = 100  # rules listed by name on the bulk form; the register shows the rest


@bp.route("/rules/bulk", methods=["GET", "POST"])
@allow(*EDITORS)
def bulk():
    """Change every rule of the current filter at once (the filter travels in the URL). The
    form carries a fingerprint of the rules it showed; saving is refused if they changed."""
    db = get_db()
    rule_filter = filter_from_args(request.args)
    form = BulkForm()
    form.set_choices(db)
    if form.validate_on_submit():
        changed = attempt(
            form,
            lambda: register.change_matching(
                db, current_user, rule_filter, form.selection.data, **form.changes()
            ),
        )
        if changed is not None:
            flash(_("%(n)s rules have been changed.", n=changed), "success")
            return redirect(url_for("rules.register_page", **rule_filter.to_args()))
    elif form.is_submitted():
        # Sent back for a typing error: the new fingerprint below must not take in, unsaid,
        # rules that joined or left the filter since the form was opened.
        attempt(form, lambda: register.check_selection(db, rule_filter, form.selection.data))
    # Whatever was posted, the page shows the rules matching now and carries their fingerprint.
    ids = register.rule_ids(db, rule_filter)
    form.selection.data = register.selection_token(ids)
    listed = register.search(db, rule_filter, sort="code", per_page=BULK_LISTED)
    return render_template(
        "rules/bulk.html",
        form=form,
        count=len(ids),
        listed=listed,
        f=rule_filter,
        args=rule_filter.to_args(),
    )
