// The dashboard's data transforms, pure and unit-tested: the 7-day moving average, anomalous
// days, funnel conversion and the cohort heatmap cells.

export interface Day {
  date: string;
  collected: number;
}

/** Trailing mean over up to `window` days ending at each day (fewer at the start). */
export function movingAverage(values: number[], window = 7): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

/**
 * Indexes of anomalous days: a value more than `k` standard deviations from the mean of the
 * previous `lookback` days (at least `minHistory` of them). With no spread in the history, any
 * different value is an anomaly.
 */
export function anomalies(values: number[], lookback = 28, k = 3, minHistory = 7): number[] {
  const out: number[] = [];
  for (let i = minHistory; i < values.length; i++) {
    const history = values.slice(Math.max(0, i - lookback), i);
    const mean = history.reduce((a, b) => a + b, 0) / history.length;
    const sd = Math.sqrt(history.reduce((a, b) => a + (b - mean) ** 2, 0) / history.length);
    if (sd === 0 ? values[i] !== mean : Math.abs(values[i] - mean) > k * sd) out.push(i);
  }
  return out;
}

export interface FunnelStep {
  stage: string;
  count: number;
  /** Share of the first stage, 0..1. */
  ofFirst: number;
  /** Share of the previous stage, 0..1 (1 for the first). */
  ofPrevious: number;
}

export function funnel(stages: { stage: string; count: number }[]): FunnelStep[] {
  const first = stages[0]?.count ?? 0;
  return stages.map((s, i) => {
    const previous = i === 0 ? s.count : stages[i - 1].count;
    return {
      stage: s.stage,
      count: s.count,
      ofFirst: first > 0 ? s.count / first : 0,
      ofPrevious: i === 0 ? 1 : previous > 0 ? s.count / previous : 0,
    };
  });
}

/** ECharts heatmap cells `[week index, cohort index, percent]`, skipping weeks not reached. */
export function heatmapCells(cohorts: { collectedShare: (number | null)[] }[]): [number, number, number][] {
  const cells: [number, number, number][] = [];
  cohorts.forEach((c, row) =>
    c.collectedShare.forEach((share, week) => {
      if (share !== null && share !== undefined) cells.push([week, row, Math.round(share * 1000) / 10]);
    }),
  );
  return cells;
}

/** Everything the revenue chart draws, in major units. */
export function revenueSeries(days: Day[], minorPerMajor: number) {
  const values = days.map((d) => d.collected / minorPerMajor);
  const average = movingAverage(values).map((v) => Math.round(v * 100) / 100);
  const marked = anomalies(values).map((i) => ({ date: days[i].date, value: values[i] }));
  return { dates: days.map((d) => d.date), values, average, anomalies: marked };
}
