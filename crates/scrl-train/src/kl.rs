//! The KL coefficient: fixed (the paper's lambda = 0.1) or adaptive (Ziegler et al. 2019), which
//! moves the coefficient so that the observed KL tracks a target. Its state is part of every
//! checkpoint.

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum KlController {
    Fixed {
        coef: f64,
    },
    Adaptive {
        coef: f64,
        target: f64,
        horizon: f64,
    },
}

impl KlController {
    pub fn coef(&self) -> f64 {
        match self {
            KlController::Fixed { coef } | KlController::Adaptive { coef, .. } => *coef,
        }
    }

    /// Updates after a batch of `n_steps` samples with mean KL `observed`.
    pub fn update(&mut self, observed: f64, n_steps: usize) {
        if let KlController::Adaptive {
            coef,
            target,
            horizon,
        } = self
        {
            let error = (observed / *target - 1.0).clamp(-0.2, 0.2);
            *coef *= 1.0 + error * n_steps as f64 / *horizon;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_never_moves_and_adaptive_tracks_the_target() {
        let mut f = KlController::Fixed { coef: 0.1 };
        f.update(100.0, 2);
        assert_eq!(f.coef(), 0.1);
        let mut a = KlController::Adaptive {
            coef: 0.1,
            target: 1.0,
            horizon: 100.0,
        };
        a.update(2.0, 10); // KL too high: coefficient grows by the clipped error 0.2 * 10/100.
        assert!((a.coef() - 0.1 * 1.02).abs() < 1e-12);
        a.update(0.0, 10); // KL too low: it shrinks.
        assert!(a.coef() < 0.1 * 1.02);
    }
}
