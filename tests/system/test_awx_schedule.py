"""The schedule data (playbooks/vars/schedule.yml) and the AWX configuration built from it (playbooks/awx/).

No AWX runs here (it needs Kubernetes): the rules are computed with dateutil, as AWX computes them, the
templates are checked against the playbooks they name, and every argument configure.yml passes to an awx.awx
module against that module's own argument spec (ansible-doc).
"""
import datetime
import json
import os
import re
import subprocess
import sys
import zoneinfo

import jinja2
import pytest
import yaml
from dateutil.rrule import rrulestr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests.support import playbook as pb  # noqa: E402  pylint: disable=wrong-import-position

SCHEDULE = os.path.join(ROOT, "playbooks", "vars", "schedule.yml")
CONFIGURE = os.path.join(ROOT, "playbooks", "awx", "configure.yml")
AWX_VARS = os.path.join(ROOT, "playbooks", "awx", "vars", "awx.yml")

# The default (UTC), two northern zones whose DST changes fall at different local hours, and a southern one.
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney"]
# Two whole years: both DST changes of every zone, twice, and every month's last Sunday and quarter start.
WINDOW = (datetime.date(2026, 1, 1), datetime.date(2027, 12, 31))


def load_yaml(path):
    class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """Reads Ansible's !unsafe as the plain string it marks."""
    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    with open(path) as handle:
        return yaml.load(handle, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


JOBS = load_yaml(SCHEDULE)["schedule_jobs"]
SCHEDULED = [job for job in JOBS if job["rrule"]]


def rule_for(job, zone, tzinfos=None):
    """The rule in `zone`, its TZID read with zoneinfo; without tzinfos, with dateutil's own zones as AWX reads it."""
    text = job["rrule"].replace("{{ awx_timezone }}", zone).replace(" RRULE:", "\nRRULE:")
    return rrulestr(text, tzids=tzinfos) if tzinfos else rrulestr(text)


def cron_field_matches(field, value):
    return field == "*" or value in [int(part) for part in str(field).split(",")]


def cron_days(schedule):
    """The local dates the cron-like fields (and their `rule`) select: what the cron role installs."""
    day = WINDOW[0]
    while day <= WINDOW[1]:
        weekday = (day.weekday() + 1) % 7  # cron: 0 = Sunday
        rule = schedule.get("rule")
        chosen = (cron_field_matches(schedule["month"], day.month) and cron_field_matches(schedule["day"], day.day)
                  and cron_field_matches(schedule["weekday"], weekday))
        if rule == "last_sunday":
            chosen = chosen and (day + datetime.timedelta(days=7)).month != day.month
        elif rule == "first_monday":
            chosen = chosen and day.day <= 7
        elif rule is not None:
            raise AssertionError("unknown schedule rule %r" % rule)
        if chosen:
            yield day
        day += datetime.timedelta(days=1)


def exists(local):
    """False for a wall-clock time the zone skips (spring forward): it does not survive a round trip."""
    back = local.astimezone(datetime.timezone.utc).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def ambiguous(local):
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def test_data_has_every_line_of_the_guide():
    guide = [job["guide"].split(":")[0] for job in JOBS]
    assert guide.count("Daily") >= 6 and guide.count("Weekly") == 3
    assert guide.count("Monthly") == 4 and guide.count("Quarterly") == 3
    assert len({job["name"] for job in JOBS}) == len(JOBS)
    for job in JOBS:
        assert (job["schedule"] is None) == (job["rrule"] is None), job["name"]
        assert job["available"] or job.get("reason"), "%s: unavailable without a reason" % job["name"]


@pytest.mark.parametrize("job", SCHEDULED, ids=[job["name"] for job in SCHEDULED])
def test_rule_is_one_awx_accepts(job):
    """AWX's own checks of a schedule's rrule (awx/api/serializers.py SchedulePreviewSerializer.validate_rrule)."""
    rule = job["rrule"]
    assert re.match(r"^DTSTART;TZID=\{\{ awx_timezone \}\}:\d{8}T\d{6} RRULE:[^ ]+$", rule), rule
    body = rule.split(" RRULE:")[1]
    assert "INTERVAL=" in body and "SECONDLY" not in body and "COUNT" not in body
    assert not re.search(r"BYDAY=[^;]*[0-9]", body), "AWX refuses numeric BYDAY prefixes: use BYSETPOS"
    assert not re.search(r"BYMONTHDAY=[^;]*,|BYMONTH=[^;]*,|BYYEARDAY|BYWEEKNO|EXDATE|RDATE", body)


@pytest.mark.parametrize("zone", ZONES)
def test_rules_land_at_the_local_time_across_dst(zone):
    """Each rule's occurrences are the cron fields' days at their local time; none is in a skipped hour, none
    runs twice in a doubled one, and a zone with DST is seen through both of its changes."""
    tz = zoneinfo.ZoneInfo(zone)
    start = datetime.datetime.combine(WINDOW[0], datetime.time(), tz)
    end = datetime.datetime.combine(WINDOW[1], datetime.time(23, 59), tz)
    offsets = set()
    for job in SCHEDULED:
        occurrences = list(rule_for(job, zone, {zone: tz}).between(start, end, inc=True))
        as_awx = list(rule_for(job, zone).between(start, end, inc=True))
        assert [o.astimezone(datetime.timezone.utc) for o in as_awx] == [o.astimezone(datetime.timezone.utc) for o in occurrences]
        schedule = job["schedule"]
        assert [o.date() for o in occurrences] == list(cron_days(schedule)), job["name"]
        for occurrence in occurrences:
            assert occurrence.tzinfo is tz
            assert (occurrence.hour, occurrence.minute) == (schedule["hour"], schedule["minute"]), (job["name"], occurrence)
            assert exists(occurrence), "%s at %s falls in the hour %s skips" % (job["name"], occurrence, zone)
            offsets.add(occurrence.utcoffset())
        instants = [o.astimezone(datetime.timezone.utc) for o in occurrences]
        assert len(set(instants)) == len(instants) and instants == sorted(instants), job["name"]
    assert len(offsets) == (1 if zone == "UTC" else 2), offsets


def test_only_the_derivation_and_backup_meet_a_doubled_hour():
    """On the autumn change a 01:xx job (New York) or 02:xx job (Berlin) has a wall time that exists twice;
    dateutil (and so AWX) yields it once, at the first of the two (fold=0). No job is in Berlin's 02:xx."""
    for zone in ZONES:
        tz = zoneinfo.ZoneInfo(zone)
        start = datetime.datetime.combine(WINDOW[0], datetime.time(), tz)
        end = datetime.datetime.combine(WINDOW[1], datetime.time(23, 59), tz)
        for job in SCHEDULED:
            for occurrence in rule_for(job, zone, {zone: tz}).between(start, end, inc=True):
                if ambiguous(occurrence):
                    assert zone == "America/New_York" and job["name"] in ("Consumption derivation", "Nightly backup")
                    assert occurrence.fold == 0


def playbook_tags(playbook):
    """Every tag a playbook can select: its own and those of the role task files it reaches."""
    tags = set()
    texts = []
    with open(os.path.join(ROOT, playbook)) as handle:
        texts.append(handle.read())
    roles = set(re.findall(r"inventory_enterprise\.ops\.(\w+)", texts[0])) & set(os.listdir(os.path.join(ROOT, "roles")))
    for role in roles:
        tasks = os.path.join(ROOT, "roles", role, "tasks")
        for name in sorted(os.listdir(tasks)):
            with open(os.path.join(tasks, name)) as handle:
                texts.append(handle.read())

    def walk(node):
        if isinstance(node, dict):
            value = node.get("tags")
            if value is not None:
                tags.update([value] if isinstance(value, str) else value)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)
    for text in texts:
        walk(yaml.safe_load(text))
    return tags - {"always", "never"}


@pytest.mark.parametrize("job", JOBS, ids=[job["name"] for job in JOBS])
def test_template_names_a_playbook_and_tags_that_exist(job):
    path = os.path.join(ROOT, job["playbook"])
    landed = os.path.isfile(path) and set(job["tags"]) <= playbook_tags(job["playbook"])
    # An unavailable entry whose procedure has landed must be switched on; an available one must have landed.
    assert landed == job["available"], "%s: available=%s but playbook/tags landed=%s" % (job["name"], job["available"], landed)
    if landed:
        with open(path) as handle:
            text = handle.read()
        for question in job.get("survey", []):
            assert set(question) >= {"variable", "question_name", "type", "required"}
            assert question["type"] in ("text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect")
            assert question["type"] != "multiplechoice" or question["default"] in question["choices"]
            used = question["variable"] in text or any(
                question["variable"] in open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")).read()
                for role in os.listdir(os.path.join(ROOT, "roles")))
            assert used, "%s: survey variable %s is read by nothing" % (job["name"], question["variable"])


def configure_tasks():
    play = load_yaml(CONFIGURE)[0]
    return play, {task["name"]: task for task in play["tasks"]}


def render(value, variables):
    """Render a string the way Ansible would for the variables of vars/awx.yml (plain Jinja2, repeated)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    while isinstance(value, str) and "{{" in value:
        value = env.from_string(value).render(**variables)
    return value


def test_templates_use_the_inventory_and_credentials_the_configuration_creates():
    play, tasks = configure_tasks()
    variables = load_yaml(AWX_VARS)
    variables["awx_vault_password"] = "set"
    created = {}
    for task in tasks.values():
        module = next(key for key in task if key.startswith(("awx.awx.", "ansible.builtin.")))
        if module.startswith("awx.awx.") and "loop" not in task:
            created.setdefault(module.split(".")[-1], set()).add(render(task[module]["name"], variables))
    template = tasks["One job template per schedule line and runbook"]["awx.awx.job_template"]
    assert render(template["inventory"], variables) in created["inventory"]
    assert render(template["project"], variables) in created["project"]
    credentials = yaml.safe_load(render(play["vars"]["_awx_credentials"], variables).replace("'", '"'))
    assert set(credentials) == created["credential"]
    schedule = tasks["One schedule per scheduled line, in the site's time zone"]["awx.awx.schedule"]
    assert schedule["unified_job_template"] == template["name"] == "{{ item.name }}"
    source = tasks["Inventory source (the project's inventory file)"]["awx.awx.inventory_source"]
    assert render(source["source_project"], variables) in created["project"]
    for task in tasks.values():
        if any(key.startswith("awx.awx.credential") and key != "awx.awx.credential_type" for key in task):
            assert task.get("no_log") is True, task["name"]


@pytest.fixture(scope="module")
def awx_arg_specs():
    _play, tasks = configure_tasks()
    modules = sorted({key for task in tasks.values() for key in task if key.startswith("awx.awx.")})
    proc = subprocess.run([os.path.join(pb.BIN, "ansible-doc"), "-j"] + modules, capture_output=True, text=True,
                          env=pb.ansible_env(), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    return {name: docs[name]["doc"]["options"] for name in modules}


def test_every_awx_argument_is_in_the_module_argument_spec(awx_arg_specs):
    play, tasks = configure_tasks()
    defaults = play["module_defaults"]["group/awx.awx.controller"]
    for name, options in awx_arg_specs.items():
        assert set(defaults) <= set(options), (name, set(defaults) - set(options))
    for task in tasks.values():
        for module, args in task.items():
            if not module.startswith("awx.awx."):
                continue
            options = awx_arg_specs[module]
            assert set(args) <= set(options), (task["name"], set(args) - set(options))
            for key, value in args.items():
                choices = options[key].get("choices")
                if choices and isinstance(value, str) and "{{" not in value:
                    assert value in choices, (task["name"], key, value, choices)


def test_configure_playbook_passes_syntax_check():
    proc = subprocess.run([os.path.join(pb.BIN, "ansible-playbook"), "--syntax-check", CONFIGURE],
                          capture_output=True, text=True, env=pb.ansible_env(ANSIBLE_STDOUT_CALLBACK="default"),
                          cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schedule_doc_has_one_row_per_entry_agreeing_with_the_data():
    with open(os.path.join(ROOT, "docs", "schedule.md")) as handle:
        rows = [line for line in handle.read().splitlines() if line.startswith("| ") and line.count(" | ") == 3]
    for job in JOBS:
        found = [row for row in rows if row.startswith("| %s |" % job["guide"])]
        assert len(found) == 1, job["guide"]
        guide, playbook, template, cron = found[0].strip("| ").split(" | ")
        assert playbook.startswith(("`%s`" if job["available"] else "%s") % job["playbook"]), found[0]
        assert all("`%s`" % tag for tag in job["tags"]) and all(tag in playbook for tag in job["tags"]), found[0]
        assert job["name"] in template and (job["available"] or "not yet" in template), found[0]
        if job["schedule"]:
            fields = job["schedule"]
            assert "`%(minute)s %(hour)s %(day)s %(month)s %(weekday)s`" % fields in cron, found[0]
