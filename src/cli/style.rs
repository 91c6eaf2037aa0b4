//! Colour: `--color`, NO_COLOR, CLICOLOR and CLICOLOR_FORCE through anstream, which strips
//! the styles below from whatever is not to be coloured.

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};

use super::args::ColorWhen;

/// Applies `--color` to everything written through anstream.
pub fn init(when: ColorWhen) {
    match when {
        ColorWhen::Auto => ColorChoice::Auto,
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
    }
    .write_global();
}

/// Whether what goes to standard error is coloured (for the progress bar and the log,
/// which do not write through anstream).
pub fn stderr_colored() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != ColorChoice::Never
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// A failure.
pub fn bad(text: &str) -> String {
    paint(
        Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
        text,
    )
}

/// A pass.
pub fn good(text: &str) -> String {
    paint(
        Style::new().bold().fg_color(Some(AnsiColor::Green.into())),
        text,
    )
}

/// A warning or a note.
pub fn warn(text: &str) -> String {
    paint(
        Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
        text,
    )
}

/// A command to copy, or a heading.
pub fn strong(text: &str) -> String {
    paint(Style::new().bold(), text)
}
