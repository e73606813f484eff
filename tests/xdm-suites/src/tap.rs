// SPDX-License-Identifier: MIT
//! TAP output: `ok N - name`, `not ok N - name` with a `#` diagnostic,
//! a `1..N` plan at the end, and the exit status the host turns into its own.

/// A running TAP stream.
#[derive(Debug, Default)]
pub struct Tap {
    n: u32,
    failed: u32,
}

impl Tap {
    /// Starts a suite.
    pub fn new(suite: &str) -> Self {
        println!("# suite {suite}");
        Self::default()
    }

    /// Records one check.
    pub fn check(&mut self, name: &str, pass: bool, detail: impl std::fmt::Display) -> bool {
        self.n += 1;
        if pass {
            println!("ok {} - {name}", self.n);
        } else {
            self.failed += 1;
            println!("not ok {} - {name}", self.n);
            for l in detail.to_string().lines() {
                println!("#   {l}");
            }
        }
        pass
    }

    /// Records that `got` equals `want`.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, name: &str, got: T, want: T) -> bool {
        let pass = got == want;
        self.check(name, pass, format_args!("got {got:?}, want {want:?}"))
    }

    /// A comment line.
    pub fn note(&self, s: impl std::fmt::Display) {
        for l in s.to_string().lines() {
            println!("# {l}");
        }
    }

    /// Ends the suite: prints the plan and the summary; returns the exit status.
    pub fn finish(self) -> i32 {
        println!("1..{}", self.n);
        println!("# {} passed, {} failed", self.n - self.failed, self.failed);
        i32::from(self.failed != 0 || self.n == 0)
    }
}
