// The dashboard's transforms on small known series.
import { describe, expect, it } from "vitest";
import { anomalies, funnel, heatmapCells, movingAverage, revenueSeries } from "./transforms";

describe("movingAverage", () => {
  it("averages up to seven trailing days", () => {
    expect(movingAverage([7, 7, 7, 7, 7, 7, 7, 14])).toEqual([7, 7, 7, 7, 7, 7, 7, 8]);
    expect(movingAverage([2, 4])).toEqual([2, 3]);
    expect(movingAverage([])).toEqual([]);
  });
});

describe("anomalies", () => {
  it("marks a spike far outside the recent spread", () => {
    const values = [10, 12, 9, 11, 10, 12, 9, 11, 10, 100, 11];
    expect(anomalies(values)).toEqual([9]);
  });
  it("needs a week of history", () => {
    expect(anomalies([0, 0, 0, 500])).toEqual([]);
  });
  it("marks any change after a flat history", () => {
    expect(anomalies([0, 0, 0, 0, 0, 0, 0, 0, 5])).toEqual([8]);
  });
  it("leaves ordinary noise alone", () => {
    expect(anomalies([10, 14, 8, 12, 9, 13, 11, 10, 14, 8])).toEqual([]);
  });
});

describe("funnel", () => {
  it("gives each stage's share of the first and of the previous", () => {
    const steps = funnel([{ stage: "created", count: 10 }, { stage: "sent", count: 8 }, { stage: "viewed", count: 4 }, { stage: "paid", count: 0 }]);
    expect(steps.map((s) => s.ofFirst)).toEqual([1, 0.8, 0.4, 0]);
    expect(steps.map((s) => s.ofPrevious)).toEqual([1, 0.8, 0.5, 0]);
    expect(funnel([{ stage: "created", count: 0 }, { stage: "sent", count: 0 }])[1].ofPrevious).toBe(0);
  });
});

describe("heatmapCells", () => {
  it("places cohorts by row and weeks by column, in percent, skipping weeks not reached", () => {
    expect(heatmapCells([{ collectedShare: [0.1, 0.5, null] }, { collectedShare: [0.3333, null, null] }])).toEqual([
      [0, 0, 10], [1, 0, 50], [0, 1, 33.3],
    ]);
  });
});

describe("revenueSeries", () => {
  it("converts to major units and marks anomalies by date", () => {
    const days = Array.from({ length: 10 }, (_, i) => ({ date: `2026-03-${String(i + 1).padStart(2, "0")}`, collected: i === 9 ? 100_000 : 1_000 }));
    const s = revenueSeries(days, 100);
    expect(s.values[0]).toBe(10);
    expect(s.anomalies).toEqual([{ date: "2026-03-10", value: 1000 }]);
    expect(s.average[9]).toBeCloseTo((10 * 6 + 1000) / 7, 2);
  });
});
