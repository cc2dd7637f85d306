//! The report: each phase's answers, the sessions and logins that survived, the problems.

use std::collections::BTreeMap;

use crate::{PHASES, SESSIONS};

pub fn report(
    tally: &BTreeMap<(usize, String), u64>,
    lost: &[usize],
    (acknowledged, forgotten): (usize, &[String]),
    problems: &[String],
) -> String {
    let mut text = String::from("| phase | answers |\n| --- | --- |\n");
    for (n, name) in PHASES.iter().enumerate() {
        let row: Vec<String> = tally
            .iter()
            .filter(|((phase, _), _)| *phase == n)
            .map(|((_, outcome), count)| format!("{outcome}: {count}"))
            .collect();
        text.push_str(&format!("| {name} | {} |\n", row.join(", ")));
    }
    text.push_str(&format!(
        "\nSessions from before the faults that still answer 200: {} of {SESSIONS}.\n",
        SESSIONS - lost.len()
    ));
    text.push_str(&format!(
        "Logins acknowledged under load whose token still answers 200: {} of {acknowledged}.\n",
        acknowledged - forgotten.len()
    ));
    if problems.is_empty() {
        text.push_str("Every check held.\n");
    } else {
        for problem in problems {
            text.push_str(&format!("- PROBLEM: {problem}\n"));
        }
    }
    text
}
