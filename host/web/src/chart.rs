//! Charts drawn on the server as inline SVG: no script library and nothing from a CDN. Every chart
//! is a `<figure>` with an SVG marked `role="img"` (its `<title>` and `<desc>` name it for screen
//! readers) and, under it, the same numbers as a table in `<details>`, so that the data is readable
//! without the picture and printable.
//!
//! Bars are `<rect class="bar …">` with `data-value`: a simple chart draws one bar per row (a zero
//! is a bar of no length), a stacked chart one bar per non-zero part.

use super::ui::esc;

/// One part of a stacked bar: its name in the legend and its CSS class (colour).
pub struct Series {
    pub name: &'static str,
    pub class: &'static str,
}

const WIDTH: f64 = 760.0;
const ROW: f64 = 26.0;
const BAR: f64 = 18.0;
const TOP: f64 = 8.0;
const AXIS: f64 = 24.0;
/// Characters of a row label shown beside a horizontal bar (the whole label is in the bar's tooltip).
const LABEL_CHARS: usize = 32;
/// Where horizontal bars start: the labels are right-aligned before it.
const X0: f64 = 280.0;

/// The smallest «round» number (1, 2 or 5 × 10ⁿ) not below `max`; the scale ends there.
pub fn nice_ceiling(max: i64) -> i64 {
    if max <= 0 {
        return 1;
    }
    let mut magnitude: i64 = 1;
    while magnitude.saturating_mul(10) <= max {
        magnitude = magnitude.saturating_mul(10);
    }
    for step in [1, 2, 5, 10] {
        let candidate = magnitude.saturating_mul(step);
        if candidate >= max {
            return candidate;
        }
    }
    magnitude.saturating_mul(10)
}

/// Tick values from zero to the scale's end: four intervals, whole numbers only.
pub fn ticks(end: i64) -> Vec<i64> {
    if end < 4 {
        return (0..=end).collect();
    }
    (0..=4).map(|k| end * k / 4).collect()
}

/// Shortens a label to `max` characters, with an ellipsis when cut.
pub fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut short: String = label.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

fn format_number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    if n < 0 {
        format!("−{out}")
    } else {
        out
    }
}

fn figure(id: &str, title: &str, description: &str, svg_body: &str, height: f64, table: &str) -> String {
    format!(
        r#"<figure class="chart" id="{id}"><figcaption>{t}</figcaption><svg role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{t}</title><desc id="{id}-desc">{d}</desc>{svg_body}</svg><details><summary>Данные диаграммы «{t}»</summary><div class="table-wrap">{table}</div></details></figure>"#,
        id = esc(id),
        t = esc(title),
        d = esc(description),
    )
}

fn empty(id: &str, title: &str) -> String {
    figure(
        id,
        title,
        "Нет данных для выбранных условий.",
        r#"<text x="10" y="30" class="ov-empty">Нет данных для выбранных условий</text>"#,
        48.0,
        "<p>Нет данных.</p>",
    )
}

/// The vertical grid and the numbers of the scale under the bars, from `x0` over `span` pixels.
fn axis(end: i64, x0: f64, span: f64, y_top: f64, y_bottom: f64) -> String {
    let mut out = String::new();
    for t in ticks(end) {
        let x = x0 + span * t as f64 / end as f64;
        out.push_str(&format!(
            r#"<line class="ov-grid" x1="{x:.1}" y1="{y_top:.1}" x2="{x:.1}" y2="{y_bottom:.1}"/><text class="ov-tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            y_bottom + 16.0,
            format_number(t)
        ));
    }
    out
}

/// Horizontal bars, one per row: territories, reasons, organisations.
pub fn bars(id: &str, title: &str, value_name: &str, rows: &[(String, i64)]) -> String {
    if rows.is_empty() {
        return empty(id, title);
    }
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let end = nice_ceiling(max);
    let x0 = X0;
    let span = WIDTH - x0 - 50.0;
    let height = TOP + ROW * rows.len() as f64 + AXIS;
    let mut body = axis(end, x0, span, TOP, TOP + ROW * rows.len() as f64);
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let w = span * (*value).max(0) as f64 / end as f64;
        body.push_str(&format!(
            r#"<g><title>{full}: {v}</title><text class="ov-label" x="{lx:.1}" y="{ty:.1}" text-anchor="end">{short}</text><rect class="bar ov-s0" x="{x0:.1}" y="{by:.1}" width="{w:.1}" height="{BAR}" data-value="{value}"/><text class="ov-value" x="{vx:.1}" y="{ty:.1}">{v}</text></g>"#,
            full = esc(label),
            short = esc(&shorten(label, LABEL_CHARS)),
            v = format_number(*value),
            lx = x0 - 6.0,
            ty = y + BAR - 4.0,
            by = y + 1.0,
            vx = x0 + w + 4.0,
        ));
    }
    let total: i64 = rows.iter().map(|(_, v)| *v).sum();
    let description = format!(
        "Горизонтальные столбцы, {} строк(и); наибольшее значение {}, всего {}.",
        rows.len(),
        format_number(max),
        format_number(total)
    );
    let mut table = format!(
        "<table><thead><tr><th scope=\"col\">Показатель</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(value_name)
    );
    for (label, value) in rows {
        table.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{value}</td></tr>",
            esc(label)
        ));
    }
    table.push_str("</tbody></table>");
    figure(id, title, &description, &body, height, &table)
}

/// Horizontal stacked bars: each row split into the parts `series` names (e.g. executed, not
/// executed, in work, overdue per section), with a legend.
pub fn stacked(id: &str, title: &str, series: &[Series], rows: &[(String, Vec<i64>)]) -> String {
    if rows.is_empty() || rows.iter().all(|(_, v)| v.iter().all(|n| *n <= 0)) {
        return empty(id, title);
    }
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().map(|n| (*n).max(0)).sum::<i64>())
        .max()
        .unwrap_or(0);
    let end = nice_ceiling(max);
    let x0 = X0;
    let span = WIDTH - x0 - 50.0;
    let legend_h = 24.0;
    let bars_top = TOP + legend_h;
    let bottom = bars_top + ROW * rows.len() as f64;
    let height = bottom + AXIS;
    let mut body = String::new();
    let mut lx = x0;
    for s in series {
        body.push_str(&format!(
            r#"<rect class="ov-key {c}" x="{lx:.1}" y="{TOP}" width="12" height="12"/><text class="ov-legend" x="{tx:.1}" y="{ty:.1}">{n}</text>"#,
            c = s.class,
            tx = lx + 16.0,
            ty = TOP + 11.0,
            n = esc(s.name)
        ));
        lx += 24.0 + 7.5 * s.name.chars().count() as f64;
    }
    body.push_str(&axis(end, x0, span, bars_top, bottom));
    for (i, (label, values)) in rows.iter().enumerate() {
        let y = bars_top + ROW * i as f64;
        body.push_str(&format!(
            r#"<text class="ov-label" x="{:.1}" y="{:.1}" text-anchor="end"><title>{}</title>{}</text>"#,
            x0 - 6.0,
            y + BAR - 4.0,
            esc(label),
            esc(&shorten(label, LABEL_CHARS))
        ));
        let mut x = x0;
        for (s, value) in series.iter().zip(values) {
            if *value <= 0 {
                continue;
            }
            let w = span * *value as f64 / end as f64;
            body.push_str(&format!(
                r#"<rect class="bar {c}" x="{x:.1}" y="{by:.1}" width="{w:.1}" height="{BAR}" data-value="{value}"><title>{l} — {n}: {v}</title></rect>"#,
                c = s.class,
                by = y + 1.0,
                l = esc(label),
                n = esc(s.name),
                v = format_number(*value)
            ));
            x += w;
        }
        let total: i64 = values.iter().map(|n| (*n).max(0)).sum();
        body.push_str(&format!(
            r#"<text class="ov-value" x="{:.1}" y="{:.1}">{}</text>"#,
            x + 4.0,
            y + BAR - 4.0,
            format_number(total)
        ));
    }
    let description = format!(
        "Составные горизонтальные столбцы по {} строкам; части: {}.",
        rows.len(),
        series.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    );
    let mut table = String::from("<table><thead><tr><th scope=\"col\">Строка</th>");
    for s in series {
        table.push_str(&format!("<th scope=\"col\">{}</th>", esc(s.name)));
    }
    table.push_str("</tr></thead><tbody>");
    for (label, values) in rows {
        table.push_str(&format!("<tr><th scope=\"row\">{}</th>", esc(label)));
        for v in values {
            table.push_str(&format!("<td class=\"num\">{v}</td>"));
        }
        table.push_str("</tr>");
    }
    table.push_str("</tbody></table>");
    figure(id, title, &description, &body, height, &table)
}

/// Vertical columns in time order (months), labels under them.
pub fn columns(id: &str, title: &str, value_name: &str, rows: &[(String, i64)]) -> String {
    if rows.is_empty() {
        return empty(id, title);
    }
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let end = nice_ceiling(max);
    let (x0, top, plot_h) = (50.0, 12.0, 180.0);
    let bottom = top + plot_h;
    let height = bottom + 40.0;
    let slot = (WIDTH - x0 - 10.0) / rows.len() as f64;
    let bar_w = (slot * 0.7).min(60.0);
    let mut body = String::new();
    for t in ticks(end) {
        let y = bottom - plot_h * t as f64 / end as f64;
        body.push_str(&format!(
            r#"<line class="ov-grid" x1="{x0}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="ov-tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - 10.0,
            x0 - 4.0,
            y + 4.0,
            format_number(t)
        ));
    }
    // Labels thin out when the months are many, so that they do not overlap.
    let every = (rows.len() as f64 * 60.0 / (WIDTH - x0)).ceil().max(1.0) as usize;
    for (i, (label, value)) in rows.iter().enumerate() {
        let h = plot_h * (*value).max(0) as f64 / end as f64;
        let cx = x0 + slot * i as f64 + slot / 2.0;
        body.push_str(&format!(
            r#"<g><title>{l}: {v}</title><rect class="bar ov-s0" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}" data-value="{value}"/></g>"#,
            l = esc(label),
            v = format_number(*value),
            x = cx - bar_w / 2.0,
            y = bottom - h,
        ));
        if i % every == 0 {
            body.push_str(&format!(
                r#"<text class="ov-tick" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                bottom + 16.0,
                esc(label)
            ));
        }
    }
    let total: i64 = rows.iter().map(|(_, v)| *v).sum();
    let description = format!(
        "Столбцы по периодам с {} по {}; всего {}.",
        rows.first().map(|r| r.0.as_str()).unwrap_or_default(),
        rows.last().map(|r| r.0.as_str()).unwrap_or_default(),
        format_number(total)
    );
    let mut table = format!(
        "<table><thead><tr><th scope=\"col\">Период</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(value_name)
    );
    for (label, value) in rows {
        table.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{value}</td></tr>",
            esc(label)
        ));
    }
    table.push_str("</tbody></table>");
    figure(id, title, &description, &body, height, &table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_ends_at_a_round_number() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(-5), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(10), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(180), 200);
        assert_eq!(nice_ceiling(4291), 5000);
        assert_eq!(nice_ceiling(9869), 10000);
        assert_eq!(ticks(1), vec![0, 1]);
        assert_eq!(ticks(20), vec![0, 5, 10, 15, 20]);
        assert_eq!(ticks(5000), vec![0, 1250, 2500, 3750, 5000]);
    }

    fn widths(svg: &str) -> Vec<f64> {
        svg.split("<rect class=\"bar")
            .skip(1)
            .map(|part| {
                let w = part.split("width=\"").nth(1).unwrap().split('"').next().unwrap();
                w.parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn bars_are_proportional_to_the_values() {
        let rows = vec![("Альметьевский".to_string(), 50), ("Бугульминский".to_string(), 100)];
        let svg = bars("t", "По территориям", "Человек", &rows);
        let w = widths(&svg);
        assert_eq!(w.len(), 2);
        // Scale ends at 100: the second bar fills the plot, the first half of it.
        assert!((w[1] - 2.0 * w[0]).abs() < 0.2, "{w:?}");
        assert!((w[1] - (WIDTH - X0 - 50.0)).abs() < 0.2, "{w:?}");
        assert!(svg.contains(r#"role="img""#) && svg.contains("<title id=\"t-title\">По территориям</title>"));
        assert!(svg.contains("<td class=\"num\">100</td>"));
        // A zero is a bar of no length, still one per row.
        let zero = bars("z", "Z", "Ч", &[("a".into(), 0), ("b".into(), 3)]);
        assert_eq!(widths(&zero).len(), 2);
        assert_eq!(widths(&zero)[0], 0.0);
    }

    #[test]
    fn stacked_parts_add_up_and_zero_parts_are_not_drawn() {
        let series = [
            Series {
                name: "выполнено",
                class: "ov-done",
            },
            Series {
                name: "не выполнено",
                class: "ov-failed",
            },
            Series {
                name: "в работе",
                class: "ov-open",
            },
        ];
        let rows = vec![
            ("Охрана здоровья".to_string(), vec![2, 0, 3]),
            ("Спорт".to_string(), vec![1, 1, 0]),
        ];
        let svg = stacked("s", "По разделам", &series, &rows);
        let w = widths(&svg);
        assert_eq!(w.len(), 4, "{svg}");
        // The scale ends at 5: the first row's parts fill the whole plot.
        assert!((w[0] + w[1] - (WIDTH - X0 - 50.0)).abs() < 0.3, "{w:?}");
        assert!(svg.contains("ov-key ov-failed"));
    }

    #[test]
    fn empty_data_says_so_without_bars() {
        for svg in [
            bars("e", "Пусто", "Ч", &[]),
            columns("e", "Пусто", "Ч", &[]),
            stacked("e", "Пусто", &[], &[]),
            stacked(
                "e",
                "Пусто",
                &[Series {
                    name: "a",
                    class: "ov-s0",
                }],
                &[("x".into(), vec![0])],
            ),
        ] {
            assert!(!svg.contains("class=\"bar"), "{svg}");
            assert!(svg.contains("Нет данных"));
            assert!(svg.contains(r#"role="img""#));
        }
    }

    #[test]
    fn labels_are_escaped_and_long_ones_shortened() {
        let evil = "<script>alert(\"x\")</script> & район".to_string();
        let svg = bars("x", "Заголовок <b>", "Ч", &[(evil.clone(), 1)]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; район"));
        let cols = columns("c", "Месяцы", "Ч", &[(evil, 2)]);
        assert!(!cols.contains("<script>"));
        let long = "Отказ инвалида (ребенка-инвалида), его законного или уполномоченного представителя";
        assert_eq!(shorten(long, 10).chars().count(), 10);
        assert!(shorten(long, 10).ends_with('…'));
        assert_eq!(shorten("коротко", 10), "коротко");
        assert_eq!(format_number(1234567), "1\u{a0}234\u{a0}567");
    }

    #[test]
    fn columns_follow_the_scale() {
        let rows = vec![("2026-01".to_string(), 4), ("2026-02".to_string(), 2)];
        let svg = columns("m", "По месяцам", "Выписок", &rows);
        let heights: Vec<f64> = svg
            .split("<rect class=\"bar")
            .skip(1)
            .map(|p| {
                p.split("height=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(heights.len(), 2);
        // Scale ends at 5 over 180 px.
        assert!(
            (heights[0] - 144.0).abs() < 0.2 && (heights[1] - 72.0).abs() < 0.2,
            "{heights:?}"
        );
    }
}
