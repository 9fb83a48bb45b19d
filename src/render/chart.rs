//! Reports as SVG charts (plotters' SVG backend): one figure of a report's table as bars or a
//! line, one bar or point per row, with labelled axes and money in the report's currency
//! (its ISO 4217 exponent and symbol: `£1,234.50`, `¥1,200`, `KWD 1.250`).

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use super::{Table, report_table};
use crate::catalog::Operation;
use crate::error::ApiError;

/// The colour of every bar and point (a test finds them by it).
pub const SERIES: RGBColor = RGBColor(37, 99, 235);
const WIDTH: u32 = 880;
const HEIGHT: u32 = 440;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Bar,
    Line,
}

/// What a chart of a report shows unless asked otherwise: its table, the column naming each row,
/// and the figure drawn.
fn defaults(op: &Operation) -> (&'static str, &'static str) {
    match op.name {
        "report_revenue" => ("periods", "net.amount"),
        "report_bookings" => ("periods", "bookings"),
        "report_customers" => ("periods", "newCustomers"),
        "report_loyalty" => ("periods", "earned"),
        "report_overdue_invoices" => ("currencies.0.buckets", "amountDue.amount"),
        "report_campaigns" => ("campaigns", "delivered"),
        "report_subscriptions" => ("currencies", "now.mrr.amount"),
        _ => ("periods", ""),
    }
}

/// How a chart was asked for: everything but the report's own input.
#[derive(Debug, Default, Deserialize)]
pub struct Ask {
    pub table: Option<String>,
    pub metric: Option<String>,
    pub chart: Option<Kind>,
}

/// The SVG of a report's answer.
pub fn render(op: &Operation, answer: &Value, ask: &Ask) -> Result<String, ApiError> {
    let (default_table, default_metric) = defaults(op);
    let table = report_table(op, answer, ask.table.as_deref().unwrap_or(default_table))?;
    let metric = match ask.metric.as_deref() {
        Some(m) => m.to_string(),
        None if ask.table.is_none() => default_metric.to_string(),
        None => first_number(&table).unwrap_or_default(),
    };
    let numeric = numeric_columns(&table);
    if !numeric.contains(&metric) {
        return Err(ApiError::invalid(
            "metric",
            "unknown_metric",
            format!("The table {} has no figure {metric:?}; it has: {}.", table.path, numeric.join(", ")),
        ));
    }
    let values: Vec<f64> = table.rows.iter().map(|row| number_at(row, &metric)).collect();
    let labels: Vec<String> = table.rows.iter().enumerate().map(|(i, row)| label(&table, row, answer, i)).collect();
    let money = money_of(&table, &metric, answer);
    let title = format!("{} — {}", human(op.name.trim_start_matches("report_")), human(&metric));
    let range = match (answer["from"].as_str(), answer["to"].as_str(), answer["asOf"].as_str()) {
        (Some(from), Some(to), _) => format!("{from} to {to}"),
        (_, _, Some(as_of)) => format!("as of {as_of}"),
        _ => String::new(),
    };
    draw(&title, &range, &labels, &values, money.as_ref(), ask.chart.unwrap_or_default(), &x_title(&table))
        .map_err(|e| ApiError::internal(format!("drawing a chart: {e}")))
}

fn first_number(table: &Table) -> Option<String> {
    numeric_columns(table).into_iter().next()
}

/// The columns that hold numbers in the output schema's types (money amounts, counts, rates).
fn numeric_columns(table: &Table) -> Vec<String> {
    let ids = ["start", "end"];
    table
        .columns
        .iter()
        .filter(|c| !ids.contains(&c.header.as_str()))
        .filter(|c| {
            // Judge by the rows when there are some, else by the name.
            table.rows.iter().any(|r| pointer(r, &c.header).is_some_and(Value::is_number))
                || (table.rows.is_empty() && !c.header.ends_with("currency") && !c.header.ends_with("Id"))
        })
        .map(|c| c.header.clone())
        .collect()
}

fn pointer<'a>(row: &'a Value, header: &str) -> Option<&'a Value> {
    header.split('.').try_fold(row, |v, key| v.get(key))
}

fn number_at(row: &Value, header: &str) -> f64 {
    pointer(row, header).and_then(Value::as_f64).unwrap_or(0.0)
}

/// What names a row on the x axis: its period, or its name, bucket, currency or number.
fn label(table: &Table, row: &Value, answer: &Value, index: usize) -> String {
    if let Some(start) = row["start"].as_str() {
        return period_label(start, answer["groupBy"].as_str().unwrap_or("day"));
    }
    ["name", "bucket", "currency", "number"]
        .iter()
        .filter(|h| table.has_column(h))
        .find_map(|h| row[*h].as_str().map(str::to_string))
        .unwrap_or_else(|| (index + 1).to_string())
}

fn x_title(table: &Table) -> String {
    if table.has_column("start") {
        return "Period".into();
    }
    ["name", "bucket", "currency", "number"]
        .iter()
        .find(|h| table.has_column(h))
        .map_or_else(|| "Row".into(), |h| if *h == "bucket" { "Days overdue".into() } else { human(h) })
}

fn period_label(start: &str, group_by: &str) -> String {
    let Ok(date) = chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d") else { return start.to_string() };
    match group_by {
        "month" => date.format("%b %Y").to_string(),
        _ => date.format("%-d %b").to_string(),
    }
}

/// `net.amount` → `Net`, `newCustomers` → `New customers`.
fn human(header: &str) -> String {
    let name = header.strip_suffix(".amount").unwrap_or(header).replace(['.', '_'], " ");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A currency, when the figure is an amount of money.
struct Money {
    code: String,
    exponent: u32,
    symbol: String,
}

fn money_of(table: &Table, metric: &str, answer: &Value) -> Option<Money> {
    let prefix = metric.strip_suffix(".amount")?;
    let sibling = format!("{prefix}.currency");
    let code = table
        .rows
        .iter()
        .find_map(|r| pointer(r, &sibling).and_then(Value::as_str))
        .or_else(|| answer["currency"].as_str())?
        .to_string();
    Some(Money::of(&code))
}

/// An amount in minor units written as its currency writes it (`£1,234.50`, `¥1,200`).
pub fn money(minor: i64, code: &str) -> String {
    Money::of(code).format(minor as f64)
}

impl Money {
    fn of(code: &str) -> Money {
        let currency = iso_currency::Currency::from_code(code);
        let exponent = currency.and_then(|c| c.exponent()).map_or(2, u32::from);
        let symbol = currency
            .map(|c| c.symbol().symbol)
            .filter(|s| s.chars().count() <= 2)
            .unwrap_or_else(|| format!("{code} "));
        Money { code: code.to_string(), exponent, symbol }
    }

    /// Minor units as the currency writes them, with thousands separated.
    fn format(&self, minor: f64) -> String {
        let major = minor / 10f64.powi(self.exponent as i32);
        let sign = if major < 0.0 { "-" } else { "" };
        let text = format!("{:.*}", self.exponent as usize, major.abs());
        let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
        let grouped = group_thousands(whole);
        match fraction {
            Some(f) => format!("{sign}{}{grouped}.{f}", self.symbol),
            None => format!("{sign}{}{grouped}", self.symbol),
        }
    }
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plain_number(v: f64) -> String {
    if v.fract() == 0.0 { group_thousands_signed(v) } else { format!("{v:.2}") }
}

fn group_thousands_signed(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}{}", group_thousands(&format!("{:.0}", v.abs())))
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

fn draw(
    title: &str,
    range: &str,
    labels: &[String],
    values: &[f64],
    money: Option<&Money>,
    kind: Kind,
    x_title: &str,
) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let caption = if range.is_empty() { title.to_string() } else { format!("{title}, {range}") };
        let lowest = values.iter().copied().fold(0.0, f64::min);
        let highest = values.iter().copied().fold(0.0, f64::max);
        // Whole numbers (counts, minor units) get a span ticks can split into whole steps.
        let whole = values.iter().all(|v| v.fract() == 0.0);
        let least_span = match money {
            Some(m) => 10f64.powi(m.exponent as i32).max(10.0),
            None if whole => 10.0,
            None => 0.1,
        };
        let span = (highest - lowest).max(least_span);
        let (low, high) = (lowest, lowest + span * 1.08);
        // A segmented range a..b has a segment for each of a to b.
        let last = i32::try_from(values.len().max(1) - 1).unwrap_or(i32::MAX);
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(96)
            .build_cartesian_2d((0..last).into_segmented(), low..high)?;
        let y_title = match money {
            Some(m) => format!("{} ({})", human(title.rsplit(" — ").next().unwrap_or("")), m.code),
            None => human(title.rsplit(" — ").next().unwrap_or("")),
        };
        let x_label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => {
                usize::try_from(*i).ok().and_then(|i| labels.get(i)).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        let y_label = |v: &f64| money.map_or_else(|| plain_number(*v), |m| m.format(*v));
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len().clamp(1, 16))
            .y_labels(8)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc(x_title)
            .y_desc(y_title)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 17))
            .draw()?;
        match kind {
            Kind::Bar => {
                chart.draw_series(values.iter().enumerate().map(|(i, v)| {
                    let i = i32::try_from(i).unwrap_or(i32::MAX);
                    let mut bar = Rectangle::new(
                        [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)],
                        SERIES.filled(),
                    );
                    bar.set_margin(0, 0, 3, 3);
                    bar
                }))?;
            }
            Kind::Line => {
                let points: Vec<(SegmentValue<i32>, f64)> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (SegmentValue::CenterOf(i32::try_from(i).unwrap_or(i32::MAX)), *v))
                    .collect();
                chart.draw_series(LineSeries::new(points.clone(), SERIES.stroke_width(2)))?;
                chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, SERIES.filled())))?;
            }
        }
        if values.is_empty() {
            root.draw(&Text::new(
                "No data in this range",
                ((WIDTH / 2 - 80) as i32, (HEIGHT / 2) as i32),
                ("sans-serif", 16),
            ))?;
        }
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_in_its_currency() {
        let gbp = Money { code: "GBP".into(), exponent: 2, symbol: "£".into() };
        assert_eq!(gbp.format(123450.0), "£1,234.50");
        assert_eq!(gbp.format(-5.0), "-£0.05");
        let jpy = Money { code: "JPY".into(), exponent: 0, symbol: "¥".into() };
        assert_eq!(jpy.format(1200.0), "¥1,200");
        assert_eq!(money(1250, "KWD"), "KWD 1.250");
        assert_eq!(money(123450, "GBP"), "£1,234.50");
        assert_eq!(human("net.amount"), "Net");
        assert_eq!(human("newCustomers"), "New customers");
        assert_eq!(period_label("2030-03-04", "month"), "Mar 2030");
        assert_eq!(period_label("2030-03-04", "week"), "4 Mar");
    }
}
