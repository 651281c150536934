//! PPO's loss pieces on candle tensors of shape [batch, tokens] with a 0/1 mask of completion
//! tokens. Every op used here has a backward pass in candle (no fused ops), which the gradient
//! checks below verify.

use candle_core::{DType, Result, Tensor};

/// Mean of `x` over the positions where `mask` is 1.
pub fn masked_mean(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let n = mask
        .sum_all()?
        .to_dtype(DType::F32)?
        .to_scalar::<f32>()?
        .max(1.0);
    (x * mask)?.sum_all()? / n as f64
}

/// The clipped surrogate objective, negated into a loss, and the fraction of tokens whose ratio was
/// clipped.
pub fn policy_loss(
    logp: &Tensor,
    old_logp: &Tensor,
    adv: &Tensor,
    mask: &Tensor,
    clip: f64,
) -> Result<(Tensor, f32)> {
    let ratio = (logp - old_logp)?.exp()?;
    let unclipped = (&ratio * adv)?;
    let clipped = (ratio.clamp(1.0 - clip, 1.0 + clip)? * adv)?;
    let surrogate = unclipped.minimum(&clipped)?;
    let loss = masked_mean(&surrogate, mask)?.neg()?;
    let outside = ratio
        .detach()
        .gt(1.0 + clip)?
        .add(&ratio.detach().lt(1.0 - clip)?)?
        .to_dtype(DType::F32)?;
    let clip_frac = masked_mean(&outside, mask)?.to_scalar::<f32>()?;
    Ok((loss, clip_frac))
}

/// Clipped value loss: 0.5 * max((V - R)^2, (V_old + clip(V - V_old) - R)^2), masked mean.
pub fn value_loss(
    values: &Tensor,
    old_values: &Tensor,
    returns: &Tensor,
    mask: &Tensor,
    clip: f64,
) -> Result<Tensor> {
    let delta = (values - old_values)?.clamp(-clip, clip)?;
    let clipped = (old_values + delta)?;
    let a = (values - returns)?.sqr()?;
    let b = (clipped - returns)?.sqr()?;
    masked_mean(&a.maximum(&b)?, mask)? * 0.5
}

/// Per-token KL estimate of the policy from the reference, from log-probs of the sampled tokens.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimator {
    /// log pi - log pi_ref (unbiased, can be negative per token).
    #[default]
    K1,
    /// exp(r) - r - 1 with r = log pi_ref - log pi (unbiased, always >= 0; Schulman 2020).
    K3,
}

pub fn kl_per_token(logp: &Tensor, ref_logp: &Tensor, est: KlEstimator) -> Result<Tensor> {
    match est {
        KlEstimator::K1 => logp - ref_logp,
        KlEstimator::K3 => {
            let r = (ref_logp - logp)?;
            (r.exp()? - &r)? - 1.0
        }
    }
}

/// Mean entropy (nats) of the distributions in `logits` [batch, tokens, vocab] over the masked
/// positions.
pub fn entropy(logits: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, candle_core::D::Minus1)?;
    let h = (logp.exp()? * &logp)?.sum(candle_core::D::Minus1)?.neg()?;
    masked_mean(&h, mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Compares candle's gradient of `f` at `x` with central finite differences.
    fn grad_check(shape: (usize, usize), init: &[f32], f: impl Fn(&Tensor) -> Result<Tensor>) {
        let dev = Device::Cpu;
        let x = Var::from_slice(init, shape, &dev).unwrap();
        let loss = f(x.as_tensor()).unwrap();
        let grads = loss.backward().unwrap();
        let g: Vec<f32> = grads
            .get(&x)
            .expect("x has a gradient")
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let eps = 1e-3f32;
        for i in 0..init.len() {
            let mut plus = init.to_vec();
            plus[i] += eps;
            let mut minus = init.to_vec();
            minus[i] -= eps;
            let at = |v: &[f32]| {
                f(&Tensor::from_slice(v, shape, &dev).unwrap())
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
            };
            let numeric = (at(&plus) - at(&minus)) / (2.0 * eps);
            assert!(
                (numeric - g[i]).abs() < 2e-3,
                "d/dx[{i}]: autograd {} vs numeric {numeric}",
                g[i]
            );
        }
    }

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, (2, 3), &Device::Cpu).unwrap()
    }

    #[test]
    fn policy_loss_gradient_matches_finite_differences() {
        let old = t(&[-1.0, -2.0, -0.5, -1.5, -0.7, -3.0]);
        let adv = t(&[1.0, -1.0, 0.5, 2.0, -0.3, 1.0]);
        let mask = t(&[1.0, 1.0, 0.0, 1.0, 1.0, 1.0]);
        // Some ratios inside the clip range, some outside on either side (flat there: zero
        // gradient).
        let new = [-0.95, -2.5, -0.4, -1.0, -0.72, -3.05];
        grad_check((2, 3), &new, |x| {
            Ok(policy_loss(x, &old, &adv, &mask, 0.2)?.0)
        });
    }

    #[test]
    fn policy_loss_worked_example_and_clip_fraction() {
        let old = t(&[0.0; 6]);
        let adv = t(&[1.0, 1.0, -1.0, -1.0, 1.0, 0.0]);
        let mask = t(&[1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        // ratios: e^0.5 (clipped to 1.2 for A>0), 1, e^-0.5 (A<0: min picks -0.8), 1.
        let new = t(&[0.5, 0.0, -0.5, 0.0, 9.0, 9.0]);
        let (loss, frac) = policy_loss(&new, &old, &adv, &mask, 0.2).unwrap();
        let expected = -(1.2 + 1.0 - 0.8 - 1.0) / 4.0;
        assert!((loss.to_scalar::<f32>().unwrap() - expected).abs() < 1e-5);
        assert!((frac - 0.5).abs() < 1e-6);
        // Equal policies: ratio 1, loss = -mean advantage, nothing clipped.
        let (loss, frac) = policy_loss(&old, &old, &adv, &mask, 0.2).unwrap();
        assert!((loss.to_scalar::<f32>().unwrap() - 0.0).abs() < 1e-6 && frac == 0.0);
    }

    #[test]
    fn value_loss_gradient_and_clipping() {
        let old = t(&[0.0, 0.5, 1.0, -0.5, 0.2, 0.3]);
        let ret = t(&[1.0, 0.0, 1.0, 0.5, -1.0, 0.3]);
        let mask = t(&[1.0; 6]);
        grad_check((2, 3), &[0.1, 0.9, 0.7, -0.1, 0.25, 0.6], |x| {
            value_loss(x, &old, &ret, &mask, 0.2)
        });
        // V moved past the clip towards R: the clipped error is larger and wins.
        let v = t(&[0.9, 0.5, 1.0, -0.5, 0.2, 0.3]);
        let l = value_loss(&v, &old, &ret, &t(&[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]), 0.2).unwrap();
        assert!((l.to_scalar::<f32>().unwrap() - 0.5 * 0.8f32.powi(2)).abs() < 1e-5);
    }

    #[test]
    fn kl_is_zero_for_equal_policies_and_k3_is_nonnegative() {
        let a = t(&[-1.0, -2.0, -0.5, -1.5, -0.7, -3.0]);
        let b = t(&[-1.2, -1.0, -0.5, -2.5, -0.1, -3.0]);
        for est in [KlEstimator::K1, KlEstimator::K3] {
            let z = kl_per_token(&a, &a, est)
                .unwrap()
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert_eq!(z, 0.0);
        }
        let k3: Vec<f32> = kl_per_token(&a, &b, KlEstimator::K3)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(k3.iter().all(|&x| x >= 0.0));
        grad_check((2, 3), &[-1.0, -2.0, -0.5, -1.5, -0.7, -3.0], |x| {
            kl_per_token(x, &b, KlEstimator::K3)?.sum_all()
        });
    }

    #[test]
    fn entropy_of_uniform_is_log_vocab_and_has_gradient() {
        let logits = Tensor::zeros((1, 2, 4), DType::F32, &Device::Cpu).unwrap();
        let mask = Tensor::ones((1, 2), DType::F32, &Device::Cpu).unwrap();
        let h = entropy(&logits, &mask).unwrap().to_scalar::<f32>().unwrap();
        assert!((h - 4f32.ln()).abs() < 1e-5);
        let m = Tensor::ones((2, 1), DType::F32, &Device::Cpu).unwrap();
        grad_check((2, 3), &[0.1, 0.5, -0.3, 1.0, 0.0, 0.2], |x| {
            entropy(&x.unsqueeze(1)?, &m)
        });
    }
}
