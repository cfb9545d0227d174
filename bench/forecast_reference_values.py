"""Reference values for the forecast crate's tests (forecast/src/tests.rs),
computed independently with Nixtla's statsforecast. Run with the venv
bench/forecast.sh makes:

    ~/.cache/larder/forecast-bench/venv/bin/python bench/forecast_reference_values.py
"""
import numpy as np, pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import CrostonClassic, CrostonSBA, TSB, SeasonalNaive, SeasonalWindowAverage, WindowAverage, AutoETS, Naive
import statsforecast
print("statsforecast", statsforecast.__version__)
occ = [0.0, 3.0, 0.0, 0.0, 5.0, 0.0, 2.0]
def fc(y, models, h):
    df = pd.DataFrame({"unique_id": "a", "ds": np.arange(1, len(y)+1), "y": y})
    sf = StatsForecast(models=models, freq=1, n_jobs=1)
    return sf.forecast(df=df, h=h)
print(fc(occ, [CrostonClassic(), CrostonSBA(), TSB(alpha_d=0.1, alpha_p=0.2)], 2).to_string())
lin = [float(i) for i in range(1, 29)]
print(fc(lin, [SeasonalNaive(7), SeasonalWindowAverage(7, 4), WindowAverage(28), Naive()], 9).to_string())
# AutoETS non-seasonal on a fixed noisy level+trend series
rng = np.random.default_rng(1)
y = list(np.round(20 + 0.3*np.arange(80) + rng.normal(0, 2, 80), 3))
print("ETS_INPUT", y)
print(fc(y, [AutoETS(season_length=1, model="ZZN")], 5).to_string())
