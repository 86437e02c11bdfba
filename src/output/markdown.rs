//! The Markdown plan for pull-request comments and CI job summaries: markers, the counts line,
//! refusals, drift and warnings in view, and the steps as a collapsible `diff` block.
//!
//! Invariants:
//! - Deterministic: the same plan and options give the same bytes (no clock, no environment).
//! - Bounded: the output is at most [`MarkdownOptions::max_chars`], measured in UTF-8 bytes (never
//!   fewer than characters or UTF-16 units, so the bound holds however a forge counts). When the
//!   whole plan does not fit, the diff block is cut at a line boundary, its fence and the
//!   `<details>` element are closed, and a note says how many lines were left out.
//! - What always survives truncation: the two markers, the heading and the status line (the counts
//!   line, "No changes." or the refusal), then the refusals, then drift and warnings; only the
//!   steps are cut first. (Only a limit too small for the markers and the status line is an
//!   error; a limit too small for every refusal keeps as many as fit and says how many are left.)
//! - Text that comes from manifests (addresses, reasons) is put in code spans or escaped, so it
//!   cannot break the comment's layout; the diff fence is longer than any backtick run inside.
//!
//! Markers in the diff block (column 0, so GitHub colours them): `+` create, `-` delete, `!`
//! update, and `!` for an import too (an import writes the state and changes nothing in the
//! target, so it is shown as a change of what pamform manages, not as an addition).

use std::io::{self, Write};

use crate::plan::{Action, DriftKind, Plan};

use super::text::{counts_line, step_heading};

/// The first line of every plan comment; CI finds its own comment by it and updates it.
pub const STICKY_MARKER: &str = "<!-- pamform:plan -->";

/// How the Markdown plan is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The plan's SHA-256, hex, written in the hash marker as `sha256:HASH` (a leading `sha256:`
    /// is accepted and not doubled; characters other than ASCII letters and digits are dropped,
    /// so the value can never close the HTML comment).
    pub plan_hash: String,
    /// The most the output may hold, in UTF-8 bytes. Default 65,536: GitHub's comment limit.
    pub max_chars: usize,
}

/// GitHub's limit on the body of an issue or pull-request comment.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            plan_hash: String::new(),
            max_chars: GITHUB_COMMENT_LIMIT,
        }
    }
}

/// Writes the Markdown plan, at most `options.max_chars` bytes.
///
/// Fails with `InvalidInput` only when `max_chars` cannot hold the markers and the status line.
pub fn write_plan(out: &mut dyn Write, plan: &Plan, options: &MarkdownOptions) -> io::Result<()> {
    let text = render(plan, options)?;
    out.write_all(text.as_bytes())
}

/// The whole comment as a string (see [`write_plan`]).
pub fn render(plan: &Plan, options: &MarkdownOptions) -> io::Result<String> {
    let head = head(plan, options);
    let refusals = refusal_section(plan);
    let drift = drift_section(plan);
    let notes = note_section(plan);
    let diff = DiffBlock::new(plan);
    let max = options.max_chars;

    let full_diff = diff.render(diff.lines.len());
    let full_len = head.len()
        + refusals.full().len()
        + drift.full().len()
        + notes.full().len()
        + full_diff.len();
    if full_len <= max {
        let mut text = head;
        text.push_str(&refusals.full());
        text.push_str(&drift.full());
        text.push_str(&notes.full());
        text.push_str(&full_diff);
        return Ok(text);
    }

    if head.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a Markdown plan needs at least {} bytes for its markers and status line; the limit is {max}",
                head.len()
            ),
        ));
    }
    let mut budget = max - head.len();
    let mut text = head;
    // Refusals first: they are why the plan cannot be applied.
    let part = refusals.fit(budget);
    budget -= part.len();
    text.push_str(&part);
    // Drift and warnings next, leaving room for at least the note that replaces the steps.
    let floor = diff.floor().len().min(budget);
    for section in [&drift, &notes] {
        let part = section.fit(budget - floor);
        budget -= part.len();
        text.push_str(&part);
    }
    text.push_str(&diff.fit(budget));
    debug_assert!(text.len() <= max, "markdown plan exceeds its bound");
    Ok(text)
}

/// Markers, heading and status: the part that is never cut.
fn head(plan: &Plan, options: &MarkdownOptions) -> String {
    let hash = options
        .plan_hash
        .strip_prefix("sha256:")
        .unwrap_or(&options.plan_hash);
    let hash: String = hash.chars().filter(char::is_ascii_alphanumeric).collect();
    let status = if plan.is_refused() {
        format!(
            "**Refused:** applying this plan would fail ({} reason{} below); nothing will be applied.\n\n**{}**",
            plan.refusals.len(),
            plural(plan.refusals.len()),
            counts_line(&plan.summary)
        )
    } else if plan.has_target_changes() {
        format!("**{}**", counts_line(&plan.summary))
    } else if plan.has_changes() {
        format!(
            "**No changes to the target.** Apply will update the state only ({} step{}).",
            plan.steps.len(),
            plural(plan.steps.len())
        )
    } else {
        "**No changes.** The target and the state match the manifest.".to_string()
    };
    format!(
        "{STICKY_MARKER}\n<!-- pamform:plan-hash sha256:{hash} -->\n### pamform plan\n\n{status}\n"
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A visible list under a heading, which can be cut item by item.
struct Section {
    title: String,
    items: Vec<String>,
    /// What the note after a cut list says about the items left out.
    what: &'static str,
}

impl Section {
    fn full(&self) -> String {
        if self.items.is_empty() {
            return String::new();
        }
        let mut text = self.title.clone();
        self.items.iter().for_each(|i| text.push_str(i));
        text
    }

    fn note(&self, left_out: usize) -> String {
        format!(
            "- … {left_out} more {} not shown; the full plan is in the job summary, or run `pamform plan`.\n",
            self.what
        )
    }

    /// The section cut to at most `budget` bytes: whole items, then a note; empty if not even the
    /// title and the note fit.
    fn fit(&self, budget: usize) -> String {
        let full = self.full();
        if full.len() <= budget {
            return full;
        }
        // The note with the largest count is the longest one.
        let reserve = self.title.len() + self.note(self.items.len()).len();
        if reserve > budget {
            return String::new();
        }
        let mut used = reserve;
        let mut text = self.title.clone();
        let mut shown = 0;
        for item in &self.items {
            if used + item.len() > budget {
                break;
            }
            used += item.len();
            text.push_str(item);
            shown += 1;
        }
        text.push_str(&self.note(self.items.len() - shown));
        text
    }
}

fn refusal_section(plan: &Plan) -> Section {
    let items = plan
        .refusals
        .iter()
        .map(|refusal| {
            let context = match (&refusal.request, &refusal.requested_by) {
                (Some(request), Some(by)) => format!(
                    " ({} submitted by {})",
                    code(request.id()),
                    code(by.as_str())
                ),
                (Some(request), None) => format!(" ({})", code(request.id())),
                (None, Some(by)) => format!(" (submitted by {})", code(by.as_str())),
                (None, None) => String::new(),
            };
            let mut item = format!(
                "- {}{context}: {}\n",
                code(&refusal.address.to_string()),
                escape(&refusal.reason)
            );
            if let Some(remedy) = &refusal.remedy {
                item.push_str(&format!("  - help: {}\n", escape(remedy)));
            }
            item
        })
        .collect();
    Section {
        title: "\n#### Refused: applying this plan would fail at these steps\n\n".into(),
        items,
        what: "refusals",
    }
}

fn drift_section(plan: &Plan) -> Section {
    let items = plan
        .drift
        .iter()
        .map(|drift| {
            let what = match drift.kind {
                DriftKind::Deleted => "deleted outside pamform",
                DriftKind::Added => "added outside pamform",
                DriftKind::Changed => "changed outside pamform",
            };
            format!("- {} {what}\n", code(&drift.address.to_string()))
        })
        .collect();
    Section {
        title: "\n#### Objects changed outside pamform since the last apply\n\nThe plan puts them back.\n\n"
            .into(),
        items,
        what: "drifted objects",
    }
}

fn note_section(plan: &Plan) -> Section {
    let items = plan
        .notes
        .iter()
        .map(|note| {
            format!(
                "- {}: {}\n",
                code(&note.address.to_string()),
                escape(&note.message)
            )
        })
        .collect();
    Section {
        title: "\n#### Warnings\n\n".into(),
        items,
        what: "warnings",
    }
}

/// The steps as one ```diff block inside `<details>`.
struct DiffBlock {
    /// Each line with its newline.
    lines: Vec<String>,
    fence: String,
    steps: usize,
    changes: usize,
}

impl DiffBlock {
    fn new(plan: &Plan) -> DiffBlock {
        let mut lines = Vec::new();
        let mut changes = 0;
        for (index, step) in plan.steps.iter().enumerate() {
            if index > 0 {
                lines.push("\n".to_string());
            }
            lines.push(format!(
                "# {}. {}\n",
                index + 1,
                one_line(&step_heading(step))
            ));
            for change in plan.changes_of_step(index) {
                changes += 1;
                let mark = marker(change.action);
                lines.push(format!(
                    "{mark} {}\n",
                    one_line(&change.address.to_string())
                ));
                for attribute in super::text::attribute_lines(change) {
                    lines.push(format!("{mark}     {}\n", one_line(&attribute)));
                }
            }
        }
        let longest_run = lines.iter().map(|l| backtick_run(l)).max().unwrap_or(0);
        DiffBlock {
            lines,
            fence: "`".repeat(longest_run.max(2) + 1),
            steps: plan.steps.len(),
            changes,
        }
    }

    /// The block with its first `shown` lines; a note when lines are left out.
    fn render(&self, shown: usize) -> String {
        if self.steps == 0 {
            return String::new();
        }
        let left_out = self.lines.len() - shown;
        let mut text = format!(
            "\n<details><summary>{} step{} in apply order, {} change{}{}</summary>\n\n{}diff\n",
            self.steps,
            plural(self.steps),
            self.changes,
            plural(self.changes),
            if left_out > 0 { " (truncated)" } else { "" },
            self.fence
        );
        self.lines[..shown].iter().for_each(|l| text.push_str(l));
        text.push_str(&self.fence);
        text.push('\n');
        if left_out > 0 {
            text.push_str(&format!(
                "\n… {left_out} more line{} not shown; the full plan is in the job summary, or run `pamform plan`.\n",
                plural(left_out)
            ));
        }
        text.push_str("\n</details>\n");
        text
    }

    /// What replaces the block when not even its frame fits.
    fn floor(&self) -> String {
        if self.steps == 0 {
            return String::new();
        }
        format!(
            "\n… {} step{} not shown; the full plan is in the job summary, or run `pamform plan`.\n",
            self.steps,
            plural(self.steps)
        )
    }

    /// The block cut at a line boundary to at most `budget` bytes.
    fn fit(&self, budget: usize) -> String {
        let full = self.render(self.lines.len());
        if full.len() <= budget {
            return full;
        }
        // The frame with no line shown has the longest note; every shorter count fits in it.
        let frame = self.render(0).len();
        if frame > budget {
            let floor = self.floor();
            return if floor.len() <= budget {
                floor
            } else {
                String::new()
            };
        }
        let mut used = frame;
        let mut shown = 0;
        for line in &self.lines {
            if used + line.len() > budget {
                break;
            }
            used += line.len();
            shown += 1;
        }
        self.render(shown)
    }
}

fn marker(action: Action) -> char {
    match action {
        Action::Create => '+',
        Action::Delete => '-',
        Action::Update | Action::Import => '!',
        Action::NoOp => ' ',
    }
}

/// Keeps a diff line on one line, whatever a name holds.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

fn backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// An inline code span holding `text` literally, whatever backticks it contains.
fn code(text: &str) -> String {
    let text = one_line(text);
    let ticks = "`".repeat(backtick_run(&text) + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{ticks} {text} {ticks}")
    } else {
        format!("{ticks}{text}{ticks}")
    }
}

/// Escapes Markdown and HTML in running text (a reason, a message), on one line.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&' | '!'
        ) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::model::{
        AccountRef, Address, CheckoutSpec, GroupName, GroupState, OtpApiUserSpec, OtpUserName,
        Privilege, ProfileId, Request, RequestKind, TeamId, TeamState,
    };
    use crate::plan::{Attributes, Change};
    use crate::plan::{Drift, Note, Operation, Refusal, Step, Summary};

    fn team_id() -> TeamId {
        TeamId::new("CORP-AD")
    }

    fn group(name: &str) -> GroupName {
        GroupName::new(name)
    }

    fn change(address: Address, action: Action, step: usize) -> Change {
        Change {
            address,
            action,
            step: Some(step),
            before: None,
            after: None,
        }
    }

    fn spec() -> OtpApiUserSpec {
        OtpApiUserSpec {
            team: team_id(),
            description: "Billing batch job on app01".into(),
            accounts: BTreeSet::from([AccountRef::new("CORP-DC", "svc_billing")]),
            allowed_network: "127.0.0.1/32".into(),
        }
    }

    /// The example's plan, by hand: import, TEAM-UPDATE, OTP API user, check-out.
    fn example_plan() -> Plan {
        let t = team_id();
        let otp = group("OTP API Trustee");
        let user = OtpUserName::new("billing-batch");
        let mut team = TeamState {
            description: "Corporate AD Accounts Team".into(),
            groups: BTreeMap::new(),
        };
        team.groups.insert(
            otp.clone(),
            GroupState {
                privileges: BTreeSet::from([Privilege::OtpTrustees]),
                members: BTreeSet::from([ProfileId::new("bob")]),
            },
        );
        let mut changes = vec![
            change(Address::Team(t.clone()), Action::Import, 0),
            change(Address::Group(t.clone(), otp.clone()), Action::Create, 1),
            change(
                Address::Privilege(t.clone(), otp.clone(), Privilege::OtpTrustees),
                Action::Create,
                1,
            ),
            change(
                Address::Member(t.clone(), otp.clone(), ProfileId::new("bob")),
                Action::Create,
                1,
            ),
            change(
                Address::Member(t.clone(), group("Approvers"), ProfileId::new("dave")),
                Action::Delete,
                1,
            ),
            change(Address::OtpApiUser(user.clone()), Action::Create, 2),
            change(Address::Checkout(user.clone()), Action::Create, 3),
        ];
        changes[5].after = Some(Attributes::OtpApiUser {
            spec: spec(),
            vault_account: None,
            caller: None,
        });
        let alice = ProfileId::new("alice");
        let bob = ProfileId::new("bob");
        let steps = vec![
            Step {
                operation: Operation::ImportTeam {
                    team: t.clone(),
                    state: team.clone(),
                    requested_by: alice.clone(),
                },
                submitter: None,
                subject: Address::Team(t.clone()),
                changes: 0..1,
            },
            Step {
                operation: Operation::Submit {
                    request: Request::TeamUpdate {
                        team: t.clone(),
                        state: team.clone(),
                    },
                    team_after: Some(team),
                    patch_state: false,
                },
                submitter: Some(alice),
                subject: Address::Team(t.clone()),
                changes: 1..5,
            },
            Step {
                operation: Operation::Submit {
                    request: Request::CreateOtpApiUser { spec: spec() },
                    team_after: None,
                    patch_state: false,
                },
                submitter: Some(bob.clone()),
                subject: Address::OtpApiUser(user.clone()),
                changes: 5..6,
            },
            Step {
                operation: Operation::Checkout {
                    otp_api_user: user.clone(),
                    team: t.clone(),
                    spec: CheckoutSpec {
                        requested_by: bob.clone(),
                        approved_by: BTreeSet::from([ProfileId::new("carol")]),
                    },
                    vault_account: None,
                },
                submitter: Some(bob),
                subject: Address::Checkout(user),
                changes: 6..7,
            },
        ];
        Plan {
            changes,
            drift: vec![Drift {
                address: Address::Member(t.clone(), group("Approvers"), ProfileId::new("dave")),
                kind: DriftKind::Added,
                recorded: None,
                observed: None,
            }],
            refusals: Vec::new(),
            notes: vec![Note {
                address: Address::Checkout(OtpUserName::new("old_job")),
                message: "the check-out is bound; changes to it are ignored".into(),
            }],
            steps,
            summary: Summary {
                import: 1,
                add: 5,
                change: 0,
                destroy: 1,
            },
        }
    }

    fn refused_plan() -> Plan {
        let mut plan = example_plan();
        plan.refusals.push(Refusal {
            address: Address::OtpApiUser(OtpUserName::new("billing-batch")),
            request: Some(RequestKind::CreateOtpApiUser),
            requested_by: Some(ProfileId::new("dave")),
            reason: "dave does not hold OTP_Trustees in team CORP-AD <at this step>".into(),
            remedy: Some("add dave to a group holding OTP_Trustees".into()),
        });
        plan
    }

    fn options(max_chars: usize) -> MarkdownOptions {
        MarkdownOptions {
            plan_hash: "sha256:0123abcd".into(),
            max_chars,
        }
    }

    fn render_ok(plan: &Plan, max_chars: usize) -> String {
        let mut out = Vec::new();
        write_plan(&mut out, plan, &options(max_chars)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn full_plan_layout() {
        let text = render_ok(&example_plan(), GITHUB_COMMENT_LIMIT);
        let expected = "\
<!-- pamform:plan -->
<!-- pamform:plan-hash sha256:0123abcd -->
### pamform plan

**Plan: 1 to import, 5 to add, 0 to change, 1 to destroy.**

#### Objects changed outside pamform since the last apply

The plan puts them back.

- `member.CORP-AD/Approvers/dave` added outside pamform

#### Warnings

- `checkout.old_job`: the check-out is bound; changes to it are ignored

<details><summary>4 steps in apply order, 7 changes</summary>

```diff
# 1. import team CORP-AD into the state (no request)
! team.CORP-AD

# 2. TEAM-UPDATE on team CORP-AD, submitted by alice
+ group.CORP-AD/OTP API Trustee
+ privilege.CORP-AD/OTP API Trustee/OTP_Trustees
+ member.CORP-AD/OTP API Trustee/bob
- member.CORP-AD/Approvers/dave

# 3. CREATE_PAMUTIL_API_USER for otp_api_user.billing-batch, submitted by bob
+ otp_api_user.billing-batch
+     team            = \"CORP-AD\"
+     description     = \"Billing batch job on app01\"
+     accounts        = [\"CORP-DC/svc_billing\"]
+     allowed_network = \"127.0.0.1/32\"

# 4. CHECKOUT of the vault account of otp_api_user.billing-batch, requested by bob, approved by carol; bound once, never checked out again
+ checkout.billing-batch
```

</details>
";
        assert_eq!(text, expected);
    }

    #[test]
    fn refusals_are_visible_and_escaped() {
        let text = render_ok(&refused_plan(), GITHUB_COMMENT_LIMIT);
        assert!(text.contains(
            "**Refused:** applying this plan would fail (1 reason below); nothing will be applied.\n\n**Plan: 1 to import, 5 to add, 0 to change, 1 to destroy.**\n"
        ));
        assert!(text.contains(
            "- `otp_api_user.billing-batch` (`CREATE_PAMUTIL_API_USER` submitted by `dave`): dave does not hold OTP\\_Trustees in team CORP-AD \\<at this step\\>\n  - help: add dave to a group holding OTP\\_Trustees\n"
        ));
        // Refusals come before the collapsible block.
        assert!(text.find("#### Refused").unwrap() < text.find("<details>").unwrap());
    }

    #[test]
    fn no_changes() {
        let text = render_ok(&Plan::default(), GITHUB_COMMENT_LIMIT);
        assert_eq!(
            text,
            "<!-- pamform:plan -->\n<!-- pamform:plan-hash sha256:0123abcd -->\n### pamform plan\n\n**No changes.** The target and the state match the manifest.\n"
        );
    }

    #[test]
    fn hash_cannot_close_the_comment() {
        let plan = Plan::default();
        let mut out = Vec::new();
        let options = MarkdownOptions {
            plan_hash: "ab --> <script>".into(),
            ..MarkdownOptions::default()
        };
        write_plan(&mut out, &plan, &options).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("<!-- pamform:plan-hash sha256:abscript -->\n"));
        assert_eq!(text.matches("-->").count(), 2);
    }

    #[test]
    fn backticks_in_names_do_not_break_the_fence() {
        let mut plan = example_plan();
        plan.changes[1].address = Address::Group(team_id(), group("a ```diff b"));
        let text = render_ok(&plan, GITHUB_COMMENT_LIMIT);
        assert!(text.contains("\n````diff\n"));
        assert!(text.contains("\n````\n\n</details>\n"));
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn truncation_cuts_the_diff_at_a_line_and_keeps_the_essentials() {
        let plan = refused_plan();
        let full = render_ok(&plan, usize::MAX);
        let max = full.len() - 200;
        let text = render_ok(&plan, max);
        assert!(text.len() <= max, "{} > {max}", text.len());
        assert!(text.starts_with(&format!(
            "{STICKY_MARKER}\n<!-- pamform:plan-hash sha256:0123abcd -->\n"
        )));
        assert!(text.contains("Plan: 1 to import, 5 to add, 0 to change, 1 to destroy."));
        assert!(text.contains("- `otp_api_user.billing-batch` (`CREATE_PAMUTIL_API_USER`"));
        assert!(text.contains("(truncated)</summary>"));
        assert!(text.contains(
            "more lines not shown; the full plan is in the job summary, or run `pamform plan`.\n"
        ));
        // 18 diff lines in all; 12 fit: the cut falls inside step 3's attributes.
        assert!(text.ends_with("+     team            = \"CORP-AD\"\n```\n\n… 6 more lines not shown; the full plan is in the job summary, or run `pamform plan`.\n\n</details>\n"));
        // Every shown diff line is a whole line of the full plan, in order.
        let block = |t: &str| {
            let start = t.find("```diff\n").unwrap() + 8;
            let end = t[start..].find("```").unwrap() + start;
            t[start..end].to_string()
        };
        assert!(block(&full).starts_with(&block(&text)));
        assert!(block(&text).ends_with('\n'));
    }

    #[test]
    fn output_never_exceeds_the_limit() {
        let mut plan = refused_plan();
        // Enough drift and warnings that they too must be cut at small limits.
        for i in 0..30 {
            plan.notes.push(Note {
                address: Address::OtpApiUser(OtpUserName::new(format!("user-{i}"))),
                message: "ünïcode note ✓".into(),
            });
        }
        let full = render_ok(&plan, usize::MAX);
        let head_len = head(&plan, &options(0)).len();
        assert!(
            write_plan(&mut Vec::new(), &plan, &options(head_len - 1)).is_err(),
            "a limit below the status line is an error"
        );
        for max in head_len..=full.len() + 10 {
            let text = render_ok(&plan, max);
            assert!(text.len() <= max, "{} > {max}", text.len());
            assert!(text.chars().count() <= max);
            assert!(text.contains("Plan: 1 to import, 5 to add, 0 to change, 1 to destroy."));
            assert!(text.contains(STICKY_MARKER));
            assert!(text.contains("<!-- pamform:plan-hash sha256:0123abcd -->"));
            // Opened blocks are closed.
            assert_eq!(
                text.matches("<details>").count(),
                text.matches("</details>").count()
            );
            assert_eq!(text.matches("```").count() % 2, 0, "at {max}:\n{text}");
            if max >= full.len() {
                assert_eq!(text, full);
            }
        }
    }

    #[test]
    fn refusals_survive_a_small_limit_that_cuts_everything_else() {
        let plan = refused_plan();
        let head_len = head(&plan, &options(0)).len();
        let refusals = refusal_section(&plan).full();
        let text = render_ok(&plan, head_len + refusals.len() + 10);
        assert!(text.contains(&refusals));
        assert!(!text.contains("<details>"));
    }

    #[test]
    fn deterministic() {
        let plan = refused_plan();
        assert_eq!(render_ok(&plan, 900), render_ok(&plan, 900));
    }
}
