//! Load balance figures: shares of a total and Jain's fairness index.

/// Each value's share of their sum, in percent (all 0 when the sum is 0).
pub fn shares(values: &[u64]) -> Vec<f64> {
    let total: u64 = values.iter().sum();
    values.iter().map(|&v| if total == 0 { 0.0 } else { v as f64 * 100.0 / total as f64 }).collect()
}

/// Jain's fairness index, (Σx)² / (n·Σx²): 1 when all equal, 1/n when one takes everything.
/// None for no values or all zero.
pub fn jain(values: &[u64]) -> Option<f64> {
    let n = values.len() as f64;
    let sum: f64 = values.iter().map(|&v| v as f64).sum();
    let sq: f64 = values.iter().map(|&v| (v as f64) * (v as f64)).sum();
    (n > 0.0 && sq > 0.0).then(|| sum * sum / (n * sq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_to_100() {
        let s = shares(&[30, 70]);
        assert!((s[0] - 30.0).abs() < 1e-9 && (s[1] - 70.0).abs() < 1e-9);
        assert_eq!(shares(&[0, 0]), vec![0.0, 0.0]);
    }

    #[test]
    fn jain_index_bounds() {
        assert_eq!(jain(&[5, 5, 5, 5]), Some(1.0));
        assert!((jain(&[10, 0]).unwrap() - 0.5).abs() < 1e-12);
        assert!((jain(&[1, 0, 0, 0]).unwrap() - 0.25).abs() < 1e-12);
        let j = jain(&[60, 40]).unwrap();
        assert!(j > 0.95 && j < 1.0, "{j}");
        assert_eq!(jain(&[]), None);
        assert_eq!(jain(&[0, 0]), None);
    }
}
