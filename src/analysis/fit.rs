//! Least-squares line fits, used for cost per connection (memory against open
//! connections) and for projections ("at this slope, memory runs out near N").

use serde::Serialize;

/// `y = intercept + slope * x`, with how well it fits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fit {
    pub slope: f64,
    pub intercept: f64,
    /// Coefficient of determination, 0..=1 (1: every point on the line).
    pub r2: f64,
    /// Points the fit used.
    pub points: usize,
}

/// Fit a line through `(x, y)` points. `None` with fewer than 3 points or no spread in x.
pub fn linear(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 || !sxx.is_finite() || !sxy.is_finite() {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    // All y equal: the line is exact.
    let r2 = if syy <= 0.0 {
        1.0
    } else {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    };
    Some(Fit {
        slope,
        intercept,
        r2,
        points: n,
    })
}

impl Fit {
    /// The x at which the line reaches `y` (`None` when the slope is not positive).
    pub fn x_at(&self, y: f64) -> Option<f64> {
        (self.slope > 0.0).then(|| (y - self.intercept) / self.slope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_noisy_lines() {
        let pts: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64 * 100.0, 5_000.0 + 900.0 * i as f64 * 100.0))
            .collect();
        let f = linear(&pts).unwrap();
        assert!((f.slope - 900.0).abs() < 1e-9 && (f.intercept - 5_000.0).abs() < 1e-6);
        assert!((f.r2 - 1.0).abs() < 1e-12);
        assert_eq!(f.points, 10);
        assert!((f.x_at(5_000.0 + 900.0 * 2_000.0).unwrap() - 2_000.0).abs() < 1e-6);
        // Noise lowers R² but keeps the slope near.
        let noisy: Vec<(f64, f64)> = pts
            .iter()
            .enumerate()
            .map(|(i, (x, y))| (*x, y + if i % 2 == 0 { 60_000.0 } else { -60_000.0 }))
            .collect();
        let g = linear(&noisy).unwrap();
        assert!((g.slope - 900.0).abs() < 100.0 && g.r2 < 0.99 && g.r2 > 0.8, "{g:?}");
    }

    #[test]
    fn too_few_points_or_no_spread_give_nothing() {
        assert_eq!(linear(&[]), None);
        assert_eq!(linear(&[(1.0, 2.0), (2.0, 3.0)]), None);
        assert_eq!(linear(&[(1.0, 2.0), (1.0, 3.0), (1.0, 4.0)]), None);
        let flat = linear(&[(1.0, 2.0), (2.0, 2.0), (3.0, 2.0)]).unwrap();
        assert_eq!((flat.slope, flat.r2), (0.0, 1.0));
        assert_eq!(flat.x_at(10.0), None);
    }
}
