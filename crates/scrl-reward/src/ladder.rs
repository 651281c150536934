//! The functional reward ladder of the paper (Eq. 1, Table 1) and its binary variant, as pure
//! functions of per-test observations. Knows nothing about how programs are run.
//!
//! How a run is classified (each test is one run of the program on that test's stdin):
//! - a run that hits a limit, is killed, exits non-zero or violates the sandbox reaches
//!   [`Stage::ValidSyntax`];
//! - a run that exits 0 with empty stdout reaches [`Stage::Executes`];
//! - a run that exits 0 with any stdout reaches [`Stage::ProducesOutput`];
//! - an accepted run is a passed test.
//!
//! The program's stage is the highest stage over its runs (stages are never summed):
//! [`Stage::PassesTests`] when k >= 1 of T tests pass, with R_func = 0.6 + 0.4 k/T. A problem
//! without tests is run once on empty stdin and can reach at most [`Stage::ProducesOutput`] (0.6):
//! no functional credit without a check.

use serde::{Deserialize, Serialize};

/// A rung of the ladder. The numeric value is the stage number of the paper's Table 1.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Stage 0: the program does not parse.
    SyntaxError = 0,
    /// Stage 1: the program parses, but no run finished cleanly.
    ValidSyntax = 1,
    /// Stage 2: some run exited with status 0.
    Executes = 2,
    /// Stage 3: some run exited with status 0 and wrote to stdout.
    ProducesOutput = 3,
    /// Stage 4: at least one test passed.
    PassesTests = 4,
}

impl Stage {
    /// Every stage, in ladder order (index = stage number): the one list that per-stage counts,
    /// plots and record checks iterate over.
    pub const ALL: [Stage; 5] = [
        Stage::SyntaxError,
        Stage::ValidSyntax,
        Stage::Executes,
        Stage::ProducesOutput,
        Stage::PassesTests,
    ];

    /// The stage number of the paper's Table 1 (0..=4).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The stage with this number, if the ladder has one.
    pub fn from_number(number: u8) -> Option<Stage> {
        Stage::ALL.get(usize::from(number)).copied()
    }

    /// A short description of what reaching the stage means, as plot legends show it.
    pub fn description(self) -> &'static str {
        match self {
            Stage::SyntaxError => "syntax error",
            Stage::ValidSyntax => "parses",
            Stage::Executes => "runs",
            Stage::ProducesOutput => "prints",
            Stage::PassesTests => "passes >=1 test",
        }
    }

    /// The partial credit the ladder gives for reaching this stage without passing a test.
    pub fn base_credit(self) -> f64 {
        match self {
            Stage::SyntaxError => 0.0,
            Stage::ValidSyntax => 0.2,
            Stage::Executes => 0.4,
            Stage::ProducesOutput | Stage::PassesTests => 0.6,
        }
    }
}

/// Which functional reward a run is trained or scored with.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// The ladder: 0 / 0.2 / 0.4 / 0.6 / 0.6 + 0.4 k/T.
    #[default]
    Partial,
    /// PPO-simple: 1 when every test passes, else 0 (and 0 for a problem without tests).
    Binary,
}

/// What one run of the program showed, as far as the ladder cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunObservation {
    pub exited_cleanly: bool,
    pub wrote_stdout: bool,
    pub passed: bool,
}

impl RunObservation {
    fn stage(self) -> Stage {
        match (self.passed, self.exited_cleanly, self.wrote_stdout) {
            (true, _, _) => Stage::PassesTests,
            (false, true, true) => Stage::ProducesOutput,
            (false, true, false) => Stage::Executes,
            (false, false, _) => Stage::ValidSyntax,
        }
    }
}

/// The ladder's verdict on one program.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct FunctionalScore {
    pub stage: Stage,
    pub tests_passed: usize,
    pub tests_total: usize,
    pub r_func: f64,
}

/// Scores a program that did not parse.
pub fn syntax_error(tests_total: usize) -> FunctionalScore {
    FunctionalScore {
        stage: Stage::SyntaxError,
        tests_passed: 0,
        tests_total,
        r_func: 0.0,
    }
}

/// Scores a parsed program from its runs. `tests_total` is T (0 for a problem without tests, whose
/// single run on empty stdin must then have `passed == false`).
pub fn score_runs(
    runs: &[RunObservation],
    tests_total: usize,
    kind: RewardKind,
) -> FunctionalScore {
    let tests_passed = if tests_total == 0 {
        0
    } else {
        runs.iter().filter(|r| r.passed).count()
    };
    let best = runs
        .iter()
        .map(|r| {
            RunObservation {
                passed: r.passed && tests_total > 0,
                ..*r
            }
            .stage()
        })
        .max()
        .unwrap_or(Stage::ValidSyntax);
    let stage = if tests_passed > 0 {
        Stage::PassesTests
    } else {
        best.min(Stage::ProducesOutput)
    };
    FunctionalScore {
        stage,
        tests_passed,
        tests_total,
        r_func: r_func(stage, tests_passed, tests_total, kind),
    }
}

/// The same score with its stage lowered to at most `cap` (tests passed above the cap no longer
/// count).
pub fn capped(score: FunctionalScore, cap: Stage, kind: RewardKind) -> FunctionalScore {
    if score.stage <= cap {
        return score;
    }
    let tests_passed = if cap == Stage::PassesTests {
        score.tests_passed
    } else {
        0
    };
    FunctionalScore {
        stage: cap,
        tests_passed,
        r_func: r_func(cap, tests_passed, score.tests_total, kind),
        ..score
    }
}

/// R_func of a program that reached `stage` and passed `tests_passed` of `tests_total` tests.
pub fn r_func(stage: Stage, tests_passed: usize, tests_total: usize, kind: RewardKind) -> f64 {
    match kind {
        RewardKind::Partial if tests_passed > 0 && tests_total > 0 => {
            0.6 + 0.4 * tests_passed as f64 / tests_total as f64
        }
        RewardKind::Partial => stage.base_credit(),
        RewardKind::Binary if tests_total > 0 && tests_passed == tests_total => 1.0,
        RewardKind::Binary => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRASH: RunObservation = RunObservation {
        exited_cleanly: false,
        wrote_stdout: false,
        passed: false,
    };
    const CRASH_AFTER_PRINT: RunObservation = RunObservation {
        exited_cleanly: false,
        wrote_stdout: true,
        passed: false,
    };
    const SILENT: RunObservation = RunObservation {
        exited_cleanly: true,
        wrote_stdout: false,
        passed: false,
    };
    const WRONG: RunObservation = RunObservation {
        exited_cleanly: true,
        wrote_stdout: true,
        passed: false,
    };
    const PASS: RunObservation = RunObservation {
        exited_cleanly: true,
        wrote_stdout: true,
        passed: true,
    };

    fn partial(runs: &[RunObservation], t: usize) -> FunctionalScore {
        score_runs(runs, t, RewardKind::Partial)
    }

    #[test]
    fn all_lists_the_stages_by_number() {
        for (i, stage) in Stage::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(stage.number()), i);
            assert_eq!(Stage::from_number(stage.number()), Some(stage));
        }
        assert_eq!(Stage::from_number(5), None);
    }

    #[test]
    fn stage_0_is_zero_under_both_kinds() {
        assert_eq!(syntax_error(5).r_func, 0.0);
        assert_eq!(syntax_error(5).stage, Stage::SyntaxError);
    }

    #[test]
    fn stage_1_when_every_run_crashes() {
        let s = partial(&[CRASH, CRASH_AFTER_PRINT, CRASH], 3);
        assert_eq!((s.stage, s.r_func), (Stage::ValidSyntax, 0.2));
    }

    #[test]
    fn printing_then_crashing_is_not_producing_output() {
        let s = partial(&[CRASH_AFTER_PRINT], 1);
        assert_eq!(s.stage, Stage::ValidSyntax);
    }

    #[test]
    fn stage_2_when_a_run_exits_cleanly_without_output() {
        let s = partial(&[CRASH, SILENT], 2);
        assert_eq!((s.stage, s.r_func), (Stage::Executes, 0.4));
    }

    #[test]
    fn stage_3_when_a_clean_run_prints_but_no_test_passes() {
        let s = partial(&[SILENT, WRONG, CRASH], 3);
        assert_eq!((s.stage, s.r_func), (Stage::ProducesOutput, 0.6));
    }

    #[test]
    fn stage_4_is_point_six_plus_point_four_k_over_t() {
        let s = partial(&[PASS, WRONG, WRONG, CRASH, PASS], 5);
        assert_eq!((s.stage, s.tests_passed), (Stage::PassesTests, 2));
        assert!((s.r_func - (0.6 + 0.4 * 2.0 / 5.0)).abs() < 1e-12);
        let one = partial(&[PASS, CRASH, CRASH], 3);
        assert!((one.r_func - (0.6 + 0.4 / 3.0)).abs() < 1e-12);
        let all = partial(&[PASS, PASS, PASS], 3);
        assert_eq!(all.r_func, 1.0);
    }

    #[test]
    fn stages_are_not_summed() {
        // Every lower condition holds too, yet the reward is the highest rung only.
        let s = partial(&[PASS], 1);
        assert_eq!(s.r_func, 1.0);
        let s = partial(&[WRONG, WRONG], 2);
        assert_eq!(s.r_func, 0.6);
    }

    #[test]
    fn binary_is_one_only_when_all_pass() {
        assert_eq!(score_runs(&[PASS, PASS], 2, RewardKind::Binary).r_func, 1.0);
        assert_eq!(
            score_runs(&[PASS, WRONG], 2, RewardKind::Binary).r_func,
            0.0
        );
        assert_eq!(
            score_runs(&[WRONG, WRONG], 2, RewardKind::Binary).r_func,
            0.0
        );
        // The binary variant still reports the stage reached, for the metrics.
        assert_eq!(
            score_runs(&[PASS, WRONG], 2, RewardKind::Binary).stage,
            Stage::PassesTests
        );
    }

    #[test]
    fn no_tests_caps_credit_at_stage_3() {
        // Even a run flagged as passing cannot earn test credit when there is nothing to check it
        // against.
        let s = partial(&[PASS], 0);
        assert_eq!(
            (s.stage, s.r_func, s.tests_passed),
            (Stage::ProducesOutput, 0.6, 0)
        );
        assert_eq!(score_runs(&[PASS], 0, RewardKind::Binary).r_func, 0.0);
        assert_eq!(partial(&[SILENT], 0).r_func, 0.4);
    }

    #[test]
    fn base_credit_is_monotone() {
        let credits: Vec<f64> = Stage::ALL.iter().map(|s| s.base_credit()).collect();
        assert!(credits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(Stage::PassesTests.number(), 4);
    }
}
