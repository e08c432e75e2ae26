package dev.lethe.engine.bench;

import dev.lethe.cache.RetentionHistory;
import java.awt.BasicStroke;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** PNG charts of the quality benchmark, drawn with JFreeChart (headless). */
final class QualityCharts {
    private QualityCharts() {}

    /** Retained KV tokens of every layer across decoding steps (the paper's per-layer retention figure). */
    static void retentionPerLayer(RetentionHistory history, int layers, String title, Path file) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        XYSeries full = new XYSeries("full cache");
        Map<Integer, XYSeries> perLayer = new LinkedHashMap<>();
        for (int l = 0; l < layers; l++) perLayer.put(l, new XYSeries("layer " + l));
        for (int i = 0; i < history.size(); i++) {
            RetentionHistory.Sample s = history.sample(i);
            perLayer.get(s.layer()).add(s.step(), s.retained());
            if (s.layer() == 0) full.add(s.step(), s.fullLength());
        }
        data.addSeries(full);
        perLayer.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart(title, "decoding step", "retained KV tokens", data,
                PlotOrientation.VERTICAL, true, false, false);
        ((XYPlot) chart.getPlot()).getRenderer().setSeriesStroke(0, new BasicStroke(2f, BasicStroke.CAP_ROUND,
                BasicStroke.JOIN_ROUND, 1f, new float[] {6f, 6f}, 0f));
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1000, 600);
    }

    /** Δ perplexity against mean retained KV, one series per policy. */
    static void qualityAgainstMemory(List<QualityBench.Row> rows, Path file) throws IOException {
        Map<String, XYSeries> byPolicy = new LinkedHashMap<>();
        for (QualityBench.Row r : rows) {
            byPolicy.computeIfAbsent(r.policy(), p -> new XYSeries(p)).add(100 * r.meanRetained(), r.deltaPerplexity());
        }
        XYSeriesCollection data = new XYSeriesCollection();
        byPolicy.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart("Quality against retained KV memory",
                "mean retained KV (% of full cache)", "Δ perplexity vs full cache", data, PlotOrientation.VERTICAL,
                true, false, false);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        ((XYPlot) chart.getPlot()).setRenderer(renderer);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1000, 600);
    }
}
