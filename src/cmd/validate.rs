//! `wsload validate`: a scenario file as wsload understands it, or its first error.

/// `wsload validate FILE`: the scenario as wsload understands it, or the first error in it.
pub fn main(a: &crate::config::cli::ValidateArgs) -> u8 {
    use crate::config::scenario::parse;
    let overrides = match crate::config::plan::set_overrides(&a.set) {
        Ok(o) => o,
        Err(e) => return super::setup_error(e),
    };
    match parse::load(Some(&a.file), &overrides) {
        Ok(s) => {
            println!("{}: ok", a.file.display());
            let text = parse::describe(&s);
            println!("{}", text.trim_end());
            0
        }
        Err(e) => super::setup_error(format!("{e}\nnothing was started")),
    }
}
