//! Plots as PNG and SVG: training curves (mean reward and ladder-stage counts per step) and metric
//! bars with confidence-interval whiskers per model.
//!
//! Text needs a font file (DejaVu Sans from Debian's fonts-dejavu-core, or the file named by
//! `SCRL_PLOT_FONT`). Without one the plots are still drawn, with lines, bars and whiskers but no
//! text, and [`PlotFiles::text`] says so, because a missing font must not cost a user the rest of a
//! run.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use scrl_reward::Stage;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::EvalError;
use crate::metrics::{Metric, ModelSummary};
use crate::training::PpoEpisodeRow;

/// Environment variable naming a TrueType font to use instead of the default DejaVu Sans paths.
pub const FONT_ENV: &str = "SCRL_PLOT_FONT";
const FONT_CANDIDATES: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];
/// A family name of our own, so that registering our font cannot change another crate's
/// "sans-serif".
const FAMILY: &str = "scrl-eval-sans";

/// Whether the text of a plot (titles, axis labels, legends) was drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextRendering {
    Rendered {
        font: PathBuf,
    },
    /// No usable font was found at any of these paths; the plot has no text.
    NoFont {
        searched: Vec<PathBuf>,
    },
}

/// The two files one plot was written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotFiles {
    pub png: PathBuf,
    pub svg: PathBuf,
    pub text: TextRendering,
}

/// Reads a PPO run's metrics.jsonl for the plots: its typed rows ([`PpoEpisodeRow`]), each with a
/// finite `reward_mean`.
pub fn read_training_rows(path: &Path) -> Result<Vec<PpoEpisodeRow>, EvalError> {
    let rows: Vec<PpoEpisodeRow> = crate::training::read_rows(path)?;
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| !r.reward_mean.is_finite())
    {
        return Err(EvalError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("reward_mean is {}, not a finite number", r.reward_mean),
        });
    }
    Ok(rows)
}

/// Registers the font once per process. plotters keeps fonts for the life of the process and wants
/// `'static` bytes, so the file's bytes are leaked exactly once.
fn font() -> &'static TextRendering {
    static FONT: OnceLock<TextRendering> = OnceLock::new();
    FONT.get_or_init(|| {
        let mut searched: Vec<PathBuf> = std::env::var_os(FONT_ENV)
            .map(PathBuf::from)
            .into_iter()
            .collect();
        searched.extend(FONT_CANDIDATES.iter().map(PathBuf::from));
        for path in &searched {
            let Ok(bytes) = fs::read(path) else { continue };
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                return TextRendering::Rendered { font: path.clone() };
            }
        }
        TextRendering::NoFont { searched }
    })
}

fn family() -> Option<&'static str> {
    matches!(font(), TextRendering::Rendered { .. }).then_some(FAMILY)
}

/// One line colour per ladder stage, in [`Stage::ALL`]'s order.
const STAGE_COLORS: [RGBColor; Stage::ALL.len()] = [
    RGBColor(200, 40, 40),
    RGBColor(230, 140, 20),
    RGBColor(200, 190, 30),
    RGBColor(60, 130, 220),
    RGBColor(30, 150, 60),
];
const MODEL_COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Whole numbers without a decimal point (steps, counts); anything else with one decimal.
fn tick(v: &f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A y range around the data with some headroom; a flat series gets a small band so it is visible.
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.1 * (hi - lo) } else { 0.05 };
    (lo - pad, hi + pad)
}

fn draw_training<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[PpoEpisodeRow],
    font: Option<&str>,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let body = match font {
        Some(f) => root.titled(title, (f, 22))?,
        None => root.clone(),
    };
    let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 / 2);
    // Rows are drawn in step order even if a resumed run appended them out of order.
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| r.step);
    let rows = rows.as_slice();
    let first = rows.first().map_or(0, |r| r.step) as f64;
    let last = rows.last().map_or(1, |r| r.step) as f64;
    let x_range = first..last.max(first + 1.0);
    let label_area = if font.is_some() { 45 } else { 0 };

    let (y_lo, y_hi) = padded_range(rows.iter().map(|r| r.reward_mean));
    let mut chart = ChartBuilder::on(&top)
        .margin(12)
        .x_label_area_size(label_area)
        .y_label_area_size(label_area + 10)
        .build_cartesian_2d(x_range.clone(), y_lo..y_hi)?;
    let reward_line = rows.iter().map(|r| (r.step as f64, r.reward_mean));
    match font {
        Some(f) => {
            chart
                .configure_mesh()
                .x_desc("step")
                .x_label_formatter(&tick)
                .y_desc("mean reward")
                .label_style((f, 14))
                .axis_desc_style((f, 15))
                .draw()?;
            chart.draw_series(LineSeries::new(reward_line, BLUE.stroke_width(2)))?;
        }
        None => {
            chart.configure_mesh().x_labels(0).y_labels(0).draw()?;
            chart.draw_series(LineSeries::new(reward_line, BLUE.stroke_width(2)))?;
        }
    }

    let with_stages: Vec<(f64, [u32; Stage::ALL.len()])> = rows
        .iter()
        .map(|r| (r.step as f64, r.stage_counts))
        .collect();
    let max_count = with_stages
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(label_area)
        .y_label_area_size(label_area + 10)
        .build_cartesian_2d(x_range, 0.0..(max_count as f64 * 1.1))?;
    match font {
        Some(f) => {
            chart
                .configure_mesh()
                .x_desc("step")
                .x_label_formatter(&tick)
                .y_desc("samples per stage")
                .y_label_formatter(&tick)
                .label_style((f, 14))
                .axis_desc_style((f, 15))
                .draw()?;
        }
        None => {
            chart.configure_mesh().x_labels(0).y_labels(0).draw()?;
        }
    }
    for (stage, color) in Stage::ALL.into_iter().zip(&STAGE_COLORS) {
        let i = usize::from(stage.number());
        let series = chart.draw_series(LineSeries::new(
            with_stages.iter().map(|(x, c)| (*x, c[i] as f64)),
            color.stroke_width(2),
        ))?;
        if font.is_some() {
            let name = format!("stage {i}: {}", stage.description());
            series.label(name).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
    }
    if let Some(f) = font {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((f, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

/// What one panel of bars shows: `scale` turns a fraction into the axis unit (100 for percent).
struct Panel {
    metrics: &'static [Metric],
    scale: f64,
    y_desc: &'static str,
    y_digits: usize,
}

/// One panel of grouped bars: a group per metric, a bar per model, whiskers from ci_low to ci_high.
fn draw_bar_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    root: &DrawingArea<DB, Shift>,
    summaries: &[ModelSummary],
    panel: &Panel,
    font: Option<&str>,
) -> DrawResult<DB> {
    let Panel {
        metrics,
        scale,
        y_desc,
        y_digits,
    } = *panel;
    let n_groups = metrics.len() as f64;
    let label_area = if font.is_some() { 40 } else { 0 };
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(label_area)
        .y_label_area_size(label_area + 15)
        .build_cartesian_2d(0.0..n_groups, 0.0..(1.05 * scale))?;
    match font {
        Some(f) => {
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_label_formatter(&|v| format!("{v:.y_digits$}"))
                .y_desc(y_desc)
                .label_style((f, 14))
                .axis_desc_style((f, 15))
                .draw()?;
        }
        None => {
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_labels(0)
                .draw()?;
        }
    }
    let width = 0.8 / summaries.len().max(1) as f64;
    for (j, s) in summaries.iter().enumerate() {
        let color = MODEL_COLORS[j % MODEL_COLORS.len()];
        let estimates: Vec<(f64, f64, f64, f64)> = metrics
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                s.get(*m).map(|e| {
                    (
                        i as f64 + 0.1 + j as f64 * width,
                        scale * e.value,
                        scale * e.ci_low,
                        scale * e.ci_high,
                    )
                })
            })
            .collect();
        chart.draw_series(estimates.iter().map(|&(x0, v, _, _)| {
            Rectangle::new([(x0, 0.0), (x0 + width * 0.92, v)], color.filled())
        }))?;
        let cap = width * 0.2;
        chart.draw_series(estimates.iter().flat_map(|&(x0, _, lo, hi)| {
            let mid = x0 + width * 0.46;
            [
                PathElement::new(vec![(mid, lo), (mid, hi)], BLACK.stroke_width(2)),
                PathElement::new(
                    vec![(mid - cap, lo), (mid + cap, lo)],
                    BLACK.stroke_width(2),
                ),
                PathElement::new(
                    vec![(mid - cap, hi), (mid + cap, hi)],
                    BLACK.stroke_width(2),
                ),
            ]
        }))?;
    }
    if let Some(f) = font {
        for (i, m) in metrics.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            let style = TextStyle::from((f, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(m.label(), (px, py + 8), style))?;
        }
    }
    Ok(())
}

/// A one-line legend of model colours above the panels, where it cannot hide a bar or a whisker.
fn draw_model_legend<DB: DrawingBackend>(
    strip: &DrawingArea<DB, Shift>,
    summaries: &[ModelSummary],
    font: &str,
) -> DrawResult<DB> {
    let style = TextStyle::from((font, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let y = strip.dim_in_pixel().1 as i32 / 2;
    let mut x = 70;
    for (j, s) in summaries.iter().enumerate() {
        let color = MODEL_COLORS[j % MODEL_COLORS.len()];
        strip.draw(&Rectangle::new(
            [(x, y - 7), (x + 14, y + 7)],
            color.filled(),
        ))?;
        strip.draw(&Text::new(s.label.clone(), (x + 20, y), style.clone()))?;
        let (w, _) = strip.estimate_text_size(&s.label, &style)?;
        x += 20 + w as i32 + 30;
    }
    Ok(())
}

const BAR_RATES: [Metric; 4] = [
    Metric::SyntaxValid,
    Metric::AnyTestPassed,
    Metric::AllTestsPassed,
    Metric::SecClean,
];
const BAR_MEANS: [Metric; 3] = [Metric::MeanReward, Metric::MeanRFunc, Metric::MeanRSec];

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    summaries: &[ModelSummary],
    font: Option<&str>,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let body = match font {
        Some(f) => root.titled(title, (f, 22))?,
        None => root.clone(),
    };
    let body = match font {
        Some(f) => {
            let (strip, rest) = body.split_vertically(34);
            draw_model_legend(&strip, summaries, f)?;
            rest
        }
        None => body,
    };
    let (left, right) = body.split_horizontally(body.dim_in_pixel().0 * 4 / 7);
    let rates = Panel {
        metrics: &BAR_RATES,
        scale: 100.0,
        y_desc: "percent of problems",
        y_digits: 0,
    };
    let means = Panel {
        metrics: &BAR_MEANS,
        scale: 1.0,
        y_desc: "mean",
        y_digits: 1,
    };
    draw_bar_panel(&left, root, summaries, &rates, font)?;
    draw_bar_panel(&right, root, summaries, &means, font)?;
    Ok(())
}

/// Mean reward per step of several runs on one axis, one colour per run.
fn draw_reward_comparison<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    runs: &[(String, Vec<PpoEpisodeRow>)],
    font: Option<&str>,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let body = match font {
        Some(f) => root.titled(title, (f, 22))?,
        None => root.clone(),
    };
    let steps = runs
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|r| r.step as f64));
    let (first, last) = steps.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
        (lo.min(s), hi.max(s))
    });
    let (y_lo, y_hi) = padded_range(
        runs.iter()
            .flat_map(|(_, rows)| rows.iter().map(|r| r.reward_mean)),
    );
    let label_area = if font.is_some() { 45 } else { 0 };
    let mut chart = ChartBuilder::on(&body)
        .margin(12)
        .x_label_area_size(label_area)
        .y_label_area_size(label_area + 10)
        .build_cartesian_2d(first..last.max(first + 1.0), y_lo..y_hi)?;
    match font {
        Some(f) => {
            chart
                .configure_mesh()
                .x_desc("step")
                .x_label_formatter(&tick)
                .y_desc("mean reward")
                .label_style((f, 14))
                .axis_desc_style((f, 15))
                .draw()?;
        }
        None => {
            chart.configure_mesh().x_labels(0).y_labels(0).draw()?;
        }
    }
    for (j, (label, rows)) in runs.iter().enumerate() {
        let color = MODEL_COLORS[j % MODEL_COLORS.len()];
        let mut rows = rows.clone();
        rows.sort_by_key(|r| r.step);
        let series = chart.draw_series(LineSeries::new(
            rows.iter().map(|r| (r.step as f64, r.reward_mean)),
            color.stroke_width(2),
        ))?;
        if font.is_some() {
            series.label(label.clone()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
    }
    if let Some(f) = font {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((f, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

fn encode_png(path: &Path, rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, EvalError> {
    let mut out = Vec::new();
    let plot_err = |e: png::EncodingError| EvalError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(plot_err)?;
    writer.write_image_data(rgb).map_err(plot_err)?;
    writer.finish().map_err(plot_err)?;
    Ok(out)
}

/// Renders one figure into memory twice (bitmap and SVG) and writes `<stem>.png` and `<stem>.svg`
/// atomically, so a half-drawn plot never replaces a good one.
fn render_both(
    stem: &Path,
    size: (u32, u32),
    font: Option<&str>,
    draw_png: impl Fn(&DrawingArea<BitMapBackend<'_>, Shift>, Option<&str>) -> Result<(), String>,
    draw_svg: impl Fn(&DrawingArea<SVGBackend<'_>, Shift>, Option<&str>) -> Result<(), String>,
) -> Result<(PathBuf, PathBuf), EvalError> {
    let png_path = stem.with_extension("png");
    let svg_path = stem.with_extension("svg");
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw_png(&root, font).map_err(|message| EvalError::Plot {
            path: png_path.clone(),
            message,
        })?;
        root.present().map_err(|e| EvalError::Plot {
            path: png_path.clone(),
            message: e.to_string(),
        })?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_svg(&root, font).map_err(|message| EvalError::Plot {
            path: svg_path.clone(),
            message,
        })?;
        root.present().map_err(|e| EvalError::Plot {
            path: svg_path.clone(),
            message: e.to_string(),
        })?;
    }
    write_atomic(&png_path, &encode_png(&png_path, &rgb, size)?)?;
    write_atomic(&svg_path, svg.as_bytes())?;
    Ok((png_path, svg_path))
}

fn training_files(
    title: &str,
    rows: &[PpoEpisodeRow],
    stem: &Path,
    font: Option<&str>,
) -> Result<(PathBuf, PathBuf), EvalError> {
    if rows.is_empty() {
        return Err(EvalError::Empty {
            context: format!(" to plot in {}", stem.display()),
        });
    }
    render_both(
        stem,
        (1000, 760),
        font,
        |root, f| draw_training(root, title, rows, f).map_err(|e| e.to_string()),
        |root, f| draw_training(root, title, rows, f).map_err(|e| e.to_string()),
    )
}

fn bar_files(
    title: &str,
    summaries: &[ModelSummary],
    stem: &Path,
    font: Option<&str>,
) -> Result<(PathBuf, PathBuf), EvalError> {
    if summaries.is_empty() {
        return Err(EvalError::Empty {
            context: format!(" to plot in {}", stem.display()),
        });
    }
    render_both(
        stem,
        (1200, 560),
        font,
        |root, f| draw_bars(root, title, summaries, f).map_err(|e| e.to_string()),
        |root, f| draw_bars(root, title, summaries, f).map_err(|e| e.to_string()),
    )
}

/// Training curves of one run: mean reward per step (top) and ladder-stage counts per step
/// (bottom). Writes `<stem>.png` and `<stem>.svg`.
pub fn plot_training_curves(
    title: &str,
    rows: &[PpoEpisodeRow],
    stem: &Path,
) -> Result<PlotFiles, EvalError> {
    let (png, svg) = training_files(title, rows, stem, family())?;
    Ok(PlotFiles {
        png,
        svg,
        text: font().clone(),
    })
}

/// Bars of every model's rates (left, percent) and mean rewards (right) with CI whiskers.
/// Writes `<stem>.png` and `<stem>.svg`.
pub fn plot_metric_bars(
    title: &str,
    summaries: &[ModelSummary],
    stem: &Path,
) -> Result<PlotFiles, EvalError> {
    let (png, svg) = bar_files(title, summaries, stem, family())?;
    Ok(PlotFiles {
        png,
        svg,
        text: font().clone(),
    })
}

fn reward_comparison_files(
    title: &str,
    runs: &[(String, Vec<PpoEpisodeRow>)],
    stem: &Path,
    font: Option<&str>,
) -> Result<(PathBuf, PathBuf), EvalError> {
    if runs.iter().all(|(_, rows)| rows.is_empty()) {
        return Err(EvalError::Empty {
            context: format!(" to plot in {}", stem.display()),
        });
    }
    render_both(
        stem,
        (1000, 520),
        font,
        |root, f| draw_reward_comparison(root, title, runs, f).map_err(|e| e.to_string()),
        |root, f| draw_reward_comparison(root, title, runs, f).map_err(|e| e.to_string()),
    )
}

/// Mean reward per step of several training runs (e.g. the three PPO variants) on one axis.
/// Writes `<stem>.png` and `<stem>.svg`.
pub fn plot_reward_comparison(
    title: &str,
    runs: &[(String, Vec<PpoEpisodeRow>)],
    stem: &Path,
) -> Result<PlotFiles, EvalError> {
    let (png, svg) = reward_comparison_files(title, runs, stem, family())?;
    Ok(PlotFiles {
        png,
        svg,
        text: font().clone(),
    })
}

/// Checks that a plot's files exist and are what they claim to be: a PNG signature and a whole SVG
/// document. Returns what is wrong, one line each; empty means both are fine.
pub fn verify_plot(files: &PlotFiles) -> Vec<String> {
    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let mut problems = Vec::new();
    match fs::read(&files.png) {
        Ok(b) if b.starts_with(PNG_SIGNATURE) => {}
        Ok(_) => problems.push(format!("{}: not a PNG file", files.png.display())),
        Err(e) => problems.push(format!("{}: {e}", files.png.display())),
    }
    match fs::read_to_string(&files.svg) {
        Ok(t) if t.starts_with("<svg") && t.trim_end().ends_with("</svg>") => {}
        Ok(_) => problems.push(format!(
            "{}: not a complete SVG document",
            files.svg.display()
        )),
        Err(e) => problems.push(format!("{}: {e}", files.svg.display())),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::BootstrapConfig;
    use crate::metrics::{EvalSet, summarize};
    use crate::record::tests::rec;

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

    fn rows() -> Vec<PpoEpisodeRow> {
        (0..50u32)
            .map(|s| PpoEpisodeRow {
                step: s as u64,
                reward_mean: 0.3 + 0.002 * s as f64 + if s % 3 == 0 { 0.02 } else { 0.0 },
                stage_counts: [10u32.saturating_sub(s / 6), 2, 3 + s % 2, 4 + s / 10, s / 8],
                ..Default::default()
            })
            .collect()
    }

    fn summaries() -> Vec<ModelSummary> {
        let cfg = BootstrapConfig::default();
        [
            ("SFT", 20usize),
            ("PPO-simple", 9),
            ("PPO-fresh", 14),
            ("PPO-continue", 31),
        ]
        .iter()
        .map(|(label, valid)| {
            let recs = (0..50)
                .map(|i| {
                    rec(
                        &format!("p{i}"),
                        0,
                        i < *valid,
                        u32::from(i < valid / 4),
                        3,
                        if i < *valid { 0.65 } else { 0.4 },
                    )
                })
                .collect();
            summarize(&EvalSet::from_records(*label, recs).unwrap(), &[], &cfg).unwrap()
        })
        .collect()
    }

    fn check_files(png: &Path, svg: &Path) {
        let bytes = fs::read(png).unwrap();
        assert!(
            bytes.len() > 1000 && bytes[..8] == PNG_SIGNATURE,
            "{}",
            png.display()
        );
        let text = fs::read_to_string(svg).unwrap();
        assert!(
            text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
            "{}",
            svg.display()
        );
    }

    #[test]
    fn writes_png_and_svg_with_text() {
        let dir = tempfile::tempdir().unwrap();
        // SCRL_EVAL_KEEP=<dir> keeps the figures for a look.
        let out = std::env::var_os("SCRL_EVAL_KEEP")
            .map_or_else(|| dir.path().to_path_buf(), PathBuf::from);
        let t =
            plot_training_curves("PPO-continue training", &rows(), &out.join("training")).unwrap();
        check_files(&t.png, &t.svg);
        let runs: Vec<(String, Vec<PpoEpisodeRow>)> = ["PPO-simple", "PPO-fresh", "PPO-continue"]
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let rows = rows().into_iter().map(|mut r| {
                    r.reward_mean += 0.03 * j as f64;
                    r
                });
                (name.to_string(), rows.collect())
            })
            .collect();
        let c = plot_reward_comparison("Reward per step", &runs, &out.join("rewards")).unwrap();
        check_files(&c.png, &c.svg);
        assert_eq!(verify_plot(&c), Vec::<String>::new());
        fs::write(&c.svg, "<svg>cut off").unwrap();
        fs::remove_file(&c.png).unwrap();
        assert_eq!(verify_plot(&c).len(), 2);
        let b = plot_metric_bars("Evaluation", &summaries(), &out.join("bars")).unwrap();
        check_files(&b.png, &b.svg);
        if let TextRendering::Rendered { .. } = b.text {
            let svg = fs::read_to_string(&b.svg).unwrap();
            assert!(svg.contains("<text") && svg.contains("PPO-continue") && svg.contains("Syn.%"));
        }
    }

    #[test]
    fn draws_without_any_font() {
        // An unregistered family proves these figures need a font for text; None draws them without
        // text.
        let dir = tempfile::tempdir().unwrap();
        assert!(
            training_files("t", &rows(), &dir.path().join("x"), Some("no-such-family")).is_err()
        );
        let (png, svg) = training_files("t", &rows(), &dir.path().join("training"), None).unwrap();
        check_files(&png, &svg);
        assert!(!fs::read_to_string(&svg).unwrap().contains("<text"));
        let (png, svg) = bar_files("t", &summaries(), &dir.path().join("bars"), None).unwrap();
        check_files(&png, &svg);
        assert!(!fs::read_to_string(&svg).unwrap().contains("<text"));
        let runs = vec![("a".to_string(), rows()), ("b".to_string(), rows())];
        let (png, svg) =
            reward_comparison_files("t", &runs, &dir.path().join("rewards"), None).unwrap();
        check_files(&png, &svg);
        assert!(!fs::read_to_string(&svg).unwrap().contains("<text"));
    }

    /// A PPO row reads back as the row PPO wrote; a line that is not one (a field missing, a field
    /// PPO does not write, a non-finite reward) is an error naming its line.
    #[test]
    fn reads_typed_training_rows_and_names_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.jsonl");
        let row = PpoEpisodeRow {
            step: 1,
            reward_mean: 0.4,
            stage_counts: [1, 0, 0, 1, 0],
            val_reward: Some(0.5),
            ..Default::default()
        };
        let line = serde_json::to_string(&row).unwrap();
        fs::write(&p, format!("{line}\n\n{line}\n")).unwrap();
        let rows = read_training_rows(&p).unwrap();
        assert_eq!(rows, [row.clone(), row.clone()]);
        let mut v = serde_json::to_value(&row).unwrap();
        v.as_object_mut().unwrap().remove("reward_mean");
        fs::write(&p, format!("{line}\n{v}\n")).unwrap();
        let e = read_training_rows(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("reward_mean"), "{e}");
        let mut v = serde_json::to_value(&row).unwrap();
        v["kl"] = 0.01.into();
        fs::write(&p, format!("{v}\n")).unwrap();
        let e = read_training_rows(&p).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("kl"), "{e}");
        assert!(plot_training_curves("t", &[], &dir.path().join("empty")).is_err());
    }
}
