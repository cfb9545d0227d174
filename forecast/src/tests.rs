//! Reference values: the Croston, SBA, TSB and naive-family values below
//! were worked out by hand from the published recursions (Croston 1972;
//! Syntetos & Boylan 2005; Teunter, Syntetos & Babai 2011) and agree with
//! Nixtla's statsforecast 2.1.1 to every printed digit; the AutoETS values
//! are statsforecast's. `bench/forecast_reference_values.py` prints them
//! all again.

use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, Poisson};

use super::models::{croston, ses, tsb};
use super::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

const OCCASIONAL: [f64; 7] = [0.0, 3.0, 0.0, 0.0, 5.0, 0.0, 2.0];

#[test]
fn simple_exponential_smoothing_starts_at_the_first_value() {
    // 3 → 0.1·5 + 0.9·3 = 3.2 → 0.1·2 + 0.9·3.2 = 3.08
    assert!(close(ses(&[3.0, 5.0, 2.0], 0.1), 3.08, 1e-12));
}

#[test]
fn croston_and_sba_match_the_hand_worked_values() {
    // Sizes 3, 5, 2 → 3.08; intervals 2, 3, 2 → 2 → 2.1 → 2.09.
    let c = croston(&OCCASIONAL, 0.1);
    assert!(close(c, 3.08 / 2.09, 1e-12), "{c}");
    let sba = Model::Sba.predict(&OCCASIONAL, 3, 7).unwrap();
    assert!(close(sba[0], 0.95 * 3.08 / 2.09, 1e-12));
    assert_eq!(sba.len(), 3);
    let c = Model::Croston.predict(&OCCASIONAL, 2, 7).unwrap();
    assert_eq!(c, vec![3.08 / 2.09; 2]);
}

#[test]
fn tsb_matches_the_hand_worked_value() {
    // Chance of demand 0, 1, 0, 0, 1, 0, 1 smoothed with 0.2:
    // 0 → .2 → .16 → .128 → .3024 → .24192 → .393536; size 3.08.
    assert!(close(tsb(&OCCASIONAL, 0.1, 0.2), 0.393_536 * 3.08, 1e-12));
    assert_eq!(tsb(&[0.0; 10], 0.1, 0.1), 0.0);
}

#[test]
fn the_naive_forecasts_repeat_the_right_days() {
    let y: Vec<f64> = (1..=28).map(f64::from).collect();
    let sn = Model::SeasonalNaive.predict(&y, 9, 7).unwrap();
    assert_eq!(
        sn,
        vec![22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 22.0, 23.0]
    );
    // Same weekday over four weeks: (1 + 8 + 15 + 22) / 4 = 11.5 ...
    let swa = Model::SeasonalWindowAverage.predict(&y, 8, 7).unwrap();
    assert_eq!(swa[0], 11.5);
    assert_eq!(swa[6], 17.5);
    assert_eq!(swa[7], 11.5);
    let wa = Model::WindowAverage.predict(&y, 2, 7).unwrap();
    assert_eq!(wa, vec![14.5, 14.5]);
    assert_eq!(Model::Naive.predict(&y, 1, 7).unwrap(), vec![28.0]);
}

#[test]
fn exponential_smoothing_follows_a_level_and_a_trend() {
    let level = vec![12.0; 60];
    let f = Model::Ets.predict(&level, 5, 7).unwrap();
    assert!(f.iter().all(|v| close(*v, 12.0, 1e-6)), "{f:?}");
    // A clean line: AutoETS picks a trend and continues it.
    let line: Vec<f64> = (0..60).map(|t| 10.0 + 0.5 * t as f64).collect();
    let f = Model::Ets.predict(&line, 3, 7).unwrap();
    for (h, v) in f.iter().enumerate() {
        assert!(close(*v, 10.0 + 0.5 * (60 + h) as f64, 0.05), "{f:?}");
    }
}

#[test]
fn the_weekly_pattern_is_learnt_by_mstl() {
    let week = [2.0, 10.0, 12.0, 11.0, 14.0, 20.0, 3.0];
    let y: Vec<f64> = (0..84).map(|t| week[t % 7]).collect();
    let f = Model::MstlWeekly.predict(&y, 14, 7).unwrap();
    for (h, v) in f.iter().enumerate() {
        assert!(close(*v, week[(84 + h) % 7], 0.5), "day {h}: {f:?}");
    }
}

#[test]
fn backtest_windows_end_at_the_last_day_a_step_apart() {
    let s = Settings::default();
    assert_eq!(
        Backtest::plan(100, &s),
        Backtest {
            origins: vec![58, 65, 72],
            length: 28
        }
    );
    // Short: the window shrinks to keep two weeks to fit on, one window.
    assert_eq!(
        Backtest::plan(30, &s),
        Backtest {
            origins: vec![14],
            length: 16
        }
    );
}

#[test]
fn backtest_errors_are_actual_minus_forecast_on_uncensored_days() {
    let y: Vec<f64> = (1..=21).map(f64::from).collect();
    let plan = Backtest {
        origins: vec![14],
        length: 7,
    };
    let mut censored = vec![false; 21];
    censored[16] = true;
    let e = plan
        .errors(Model::SeasonalNaive, &y, &y, &censored, 7)
        .unwrap();
    // Forecast for day 14 + h is day 7 + h: error 7 each, day 16 left out.
    assert_eq!(e, vec![vec![7.0; 6]]);
    let a = accuracy(&e, 7.0);
    assert_eq!((a.mae, a.rmse, a.bias, a.mase), (7.0, 7.0, -7.0, Some(1.0)));
    assert_eq!((a.coverage80, a.windows, a.scored), (None, 1, 6));
}

#[test]
fn conformal_bounds_take_the_right_ranks() {
    let e: Vec<f64> = (1..=19).map(f64::from).collect();
    // n = 19, 80%: ⌊20 · 0.1⌋ = 2nd smallest, ⌈20 · 0.9⌉ = 18th.
    assert_eq!((quantile_low(&e, 0.8), quantile_high(&e, 0.8)), (2.0, 18.0));
    // 95%: ⌊0.5⌋ → the smallest, ⌈19.5⌉ = 20 → the largest.
    assert_eq!(
        (quantile_low(&e, 0.95), quantile_high(&e, 0.95)),
        (1.0, 19.0)
    );
    assert_eq!(quantile_high(&[], 0.8), 0.0);
}

fn sane(f: &Forecast, horizon: usize) {
    assert_eq!(f.points.len(), horizon);
    for p in &f.points {
        for v in [p.mean, p.lo80, p.hi80, p.lo95, p.hi95] {
            assert!(v.is_finite() && v >= 0.0, "{p:?}");
        }
        assert!(
            p.lo95 <= p.lo80 && p.lo80 <= p.mean && p.mean <= p.hi80 && p.hi80 <= p.hi95,
            "{p:?}"
        );
    }
    let a = f.accuracy;
    for v in [a.mae, a.rmse, a.bias] {
        assert!(v.is_finite());
    }
}

#[test]
fn too_little_history_is_refused_with_what_it_needs() {
    let s = Settings::default();
    assert_eq!(
        run(&[1.0; 20], &[], &s),
        Err(Refusal::NotEnoughHistory { needs: 21, has: 20 })
    );
    assert_eq!(
        run(&[], &[], &s).unwrap_err().to_string(),
        "not enough history (needs 21 days, has 0)"
    );
    let bad = Settings { horizon: 0, ..s };
    assert_eq!(run(&[1.0; 50], &[], &bad), Err(Refusal::BadSettings));
    // Just enough: a forecast, from one short window.
    let f = run(&[3.0; 21], &[], &s).unwrap();
    sane(&f, 28);
    assert_eq!(f.accuracy.windows, 1);
}

#[test]
fn all_zeros_forecast_zero_without_nan() {
    let f = run(&[0.0; 90], &[], &Settings::default()).unwrap();
    sane(&f, 28);
    assert!(f.points.iter().all(|p| p.hi95 == 0.0));
    assert_eq!(f.accuracy.mase, None);
}

#[test]
fn a_constant_series_is_forecast_exactly() {
    let f = run(&[6.0; 90], &[], &Settings::default()).unwrap();
    sane(&f, 28);
    assert!(f
        .points
        .iter()
        .all(|p| close(p.mean, 6.0, 1e-6) && close(p.hi95, 6.0, 1e-6)));
    // The simplest model that is exact wins.
    assert_eq!(f.model, Model::Naive);
}

#[test]
fn one_spike_does_not_become_the_forecast() {
    let mut y = vec![4.0; 120];
    y[110] = 400.0;
    let f = run(&y, &[], &Settings::default()).unwrap();
    sane(&f, 28);
    let mean = f.points.iter().map(|p| p.mean).sum::<f64>() / 28.0;
    assert!(mean < 20.0, "{:?} {mean}", f.model);
    // Garbage in (NaN, negative, infinite) counts as no demand.
    let mut y = vec![4.0; 60];
    y[3] = f64::NAN;
    y[9] = -5.0;
    y[20] = f64::INFINITY;
    sane(&run(&y, &[], &Settings::default()).unwrap(), 28);
}

#[test]
fn stock_out_days_are_not_read_as_no_demand() {
    // 10 a day, but out of stock (nothing went out) one day in three.
    let demand: Vec<f64> = (0..120)
        .map(|t| if t % 3 == 0 { 0.0 } else { 10.0 })
        .collect();
    let censored: Vec<bool> = (0..120).map(|t| t % 3 == 0).collect();
    let f = run(&demand, &censored, &Settings::default()).unwrap();
    sane(&f, 28);
    assert!(
        f.points.iter().all(|p| close(p.mean, 10.0, 0.5)),
        "{:?}",
        f.points[0]
    );
    assert_eq!(f.censored, 40);
    // Without the flags the same days drag the forecast down.
    let f = run(&demand, &[], &Settings::default()).unwrap();
    let mean = f.points.iter().map(|p| p.mean).sum::<f64>() / 28.0;
    assert!(mean < 8.0, "{mean}");
}

#[test]
fn occasional_demand_gets_an_occasional_demand_model_or_its_mean() {
    let mut rng = StdRng::seed_from_u64(7);
    let size = Poisson::new(6.0).unwrap();
    let y: Vec<f64> = (0..200)
        .map(|t| {
            if (t * 7919) % 5 == 0 {
                size.sample(&mut rng)
            } else {
                0.0
            }
        })
        .collect();
    let f = run(&y, &[], &Settings::default()).unwrap();
    sane(&f, 28);
    let mean = f.points.iter().map(|p| p.mean).sum::<f64>() / 28.0;
    // The true mean is 6 / 5 = 1.2 a day; a forecast of nothing loses.
    assert!(mean > 0.6 && mean < 2.0, "{:?} {mean}", f.model);
}

/// Weekly-patterned Poisson demand: the 80% and 95% intervals of the
/// forecast cover the next four weeks at about their nominal rate.
#[test]
fn intervals_cover_about_their_nominal_rate_on_simulated_demand() {
    let mut rng = StdRng::seed_from_u64(2026);
    let week = [3.0, 8.0, 9.0, 8.0, 10.0, 12.0, 2.0];
    let (mut in80, mut in95, mut total) = (0usize, 0usize, 0usize);
    for _ in 0..60 {
        let all: Vec<f64> = (0..168 + 28)
            .map(|t| Poisson::new(week[t % 7]).unwrap().sample(&mut rng))
            .collect();
        let (history, future) = all.split_at(168);
        let f = run(history, &[], &Settings::default()).unwrap();
        for (p, actual) in f.points.iter().zip(future) {
            total += 1;
            in80 += usize::from(*actual >= p.lo80 && *actual <= p.hi80);
            in95 += usize::from(*actual >= p.lo95 && *actual <= p.hi95);
        }
    }
    let (c80, c95) = (in80 as f64 / total as f64, in95 as f64 / total as f64);
    assert!((0.72..=0.9).contains(&c80), "80% intervals covered {c80}");
    assert!((0.9..=0.99).contains(&c95), "95% intervals covered {c95}");
}

/// statsforecast 2.1.1 `AutoETS(season_length=1, model="ZZN")` on this
/// series (a trend with noise, numpy seed 1) forecasts 43.606643,
/// 43.900649, 44.194654, 44.488660, 44.782665. augurs is a port of the
/// same search; its optimiser may land a little apart.
#[test]
fn exponential_smoothing_agrees_with_statsforecast() {
    let y = [
        20.691, 21.943, 21.261, 18.294, 23.011, 22.393, 20.726, 23.262, 23.129, 23.288, 23.057,
        24.393, 22.127, 23.574, 23.236, 25.698, 24.879, 24.515, 23.836, 25.186, 26.016, 25.749,
        29.188, 28.913, 21.778, 23.722, 27.45, 27.256, 28.827, 29.135, 33.236, 27.076, 28.845,
        33.986, 31.493, 31.826, 29.772, 27.804, 31.735, 31.918, 29.545, 30.934, 32.456, 31.01,
        33.003, 33.691, 33.871, 33.087, 35.587, 36.482, 35.642, 33.664, 37.063, 34.897, 37.958,
        34.356, 38.629, 37.06, 34.903, 37.072, 38.108, 38.846, 36.636, 36.685, 39.599, 38.567,
        40.271, 41.619, 37.102, 41.209, 43.449, 40.705, 39.978, 43.404, 42.707, 44.292, 42.11,
        40.136, 43.18, 42.808,
    ];
    let reference = [43.606643, 43.900649, 44.194654, 44.488660, 44.782665];
    let f = Model::Ets.predict(&y, 5, 7).unwrap();
    for (got, want) in f.iter().zip(reference) {
        assert!(
            (got - want).abs() / want < 0.01,
            "{f:?} against {reference:?}"
        );
    }
}

/// With two years of history the yearly pattern (a college's terms and
/// breaks) is learnt too: MSTL takes out the week and the year.
#[test]
fn two_years_of_history_bring_the_yearly_pattern() {
    let week = [2.0, 10.0, 12.0, 11.0, 14.0, 20.0, 3.0];
    let at = |t: usize| {
        let year = 8.0 * (2.0 * std::f64::consts::PI * t as f64 / 365.0).sin();
        20.0 + year + week[t % 7]
    };
    let y: Vec<f64> = (0..800).map(at).collect();
    assert!(Model::MstlYearly.fits(&y, 7) && !Model::MstlYearly.fits(&y[..700], 7));
    let f = Model::MstlYearly.predict(&y, 28, 7).unwrap();
    for (h, v) in f.iter().enumerate() {
        assert!(
            close(*v, at(800 + h), 1.5),
            "day {h}: {v} against {}",
            at(800 + h)
        );
    }
}
