//! `wsload compare`: two runs side by side, as a table, an exit code and a page.

/// `wsload compare BASE NEW`: 0 no regression, 1 a regression, 2 unreadable input.
pub fn main(a: &crate::config::cli::CompareArgs) -> u8 {
    use crate::report::compare::{self, Tolerances};
    let mut tol = Tolerances::default();
    match compare::parse_percent(&a.tolerance) {
        Ok(t) => tol.default = t,
        Err(e) => return super::setup_error(format!("--tolerance: {e}")),
    }
    for l in &a.metric_tolerance {
        if let Err(e) = tol.add_list(l) {
            return super::setup_error(format!("--metric-tolerance: {e}"));
        }
    }
    use crate::report::html::compare::{publish, Page};
    let page = match (&a.html, a.no_html) {
        (_, true) => Page::Off,
        (Some(f), false) => Page::At(f.clone()),
        (None, false) => Page::Beside,
    };
    match compare::main(&a.base, &a.new, &tol) {
        Ok(c) => publish(&c, &page),
        Err(code) => code,
    }
}
