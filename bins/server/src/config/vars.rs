//! The environment as the configuration reads it: blank values are unset, and every problem is
//! collected (each naming its variable) rather than the first one stopping the reading.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// How a variable is looked up (the environment, in `main`).
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// The variables, and the problems found in them so far.
pub(super) struct Vars<'a> {
    var: Lookup<'a>,
    problems: Vec<String>,
}

impl<'a> Vars<'a> {
    pub(super) fn new(var: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            var: Box::new(var),
            problems: Vec::new(),
        }
    }

    /// The variable `name`, unless it is unset or blank.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.var)(name).filter(|v| !v.trim().is_empty())
    }

    /// Notes a problem.
    pub(super) fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// The whole number `name`, `default` when unset; outside `range`, or not a number, a
    /// problem (and `default`). Read as the type it is used as: no conversion after.
    pub(super) fn number<T>(&mut self, name: &str, default: T, range: RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some(raw) = self.get(name) else {
            return default;
        };
        match raw.trim().parse::<T>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                self.problem(format!(
                    "{name} {raw:?} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ));
                default
            }
        }
    }

    /// The problems found, if any.
    pub(super) fn problems(self) -> Result<(), Vec<String>> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.problems)
        }
    }
}
