//! Lines for people (stderr) and scripts (stdout). A reader that goes away
//! (`flightdeck rollback --yes | head -3`) must not stop the work half done:
//! `println!` panics on a closed pipe, and a panic mid-rollback left the
//! target half rolled back with its lock held. These drop the text instead.

/// `println!` that ignores a closed or failing stdout.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `print!` that ignores a closed or failing stdout.
#[macro_export]
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// `eprintln!` that ignores a closed or failing stderr.
#[macro_export]
macro_rules! tell {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// `eprint!` that ignores a closed or failing stderr.
#[macro_export]
macro_rules! tell_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}
