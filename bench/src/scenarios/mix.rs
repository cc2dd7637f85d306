//! The mix's reads and logins told apart: the counts and latency buckets its Lua script kept
//! per kind, merged across threads into rows of their own.

use super::*;

impl Bench<'_> {
    /// The mix's reads and logins as rows of their own, from the scripts' counts.
    pub(super) fn mix_parts(&self, out: &mut Outcome, first_run: usize) {
        let mut me = (Histogram::default(), 0);
        let mut login = (Histogram::default(), 0);
        let mut untagged = 0;
        let mut duration_us = 0;
        for run in &out.runs[first_run..] {
            duration_us = duration_us.max(run.result.duration_us);
            for thread in &run.threads {
                let count = |name: &str| thread.stats[name].as_u64().unwrap_or(0);
                me.0.add_json(&thread.latency, false);
                login.0.add_json(&thread.latency, true);
                me.1 += count("me_errors");
                login.1 += count("login_errors");
                untagged += count("untagged");
            }
        }
        let answers = me.0.count() + login.0.count();
        let share = login.0.count() as f64 / answers.max(1) as f64;
        let mut note = format!(
            "mix: {:.1} % of the {answers} answers timed by the script were logins",
            100.0 * share
        );
        if untagged > 0 {
            note.push_str(&format!(
                "; {untagged} answers came back without their X-Request-Id, untimed"
            ));
        }
        if let Some(row) = out.rows.last_mut() {
            row.notes.push(note);
        }
        out.rows.push(Row::part(
            "mix-me",
            "… of it GET /api/me".into(),
            &me.0,
            me.1,
            duration_us,
        ));
        out.rows.push(Row::part(
            "mix-login",
            "… of it POST /api/login".into(),
            &login.0,
            login.1,
            duration_us,
        ));
    }
}
