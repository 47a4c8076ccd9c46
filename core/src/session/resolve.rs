//! Resolving a checked session into a [`Plan`]: sources' headers, placement on the
//! reel, routing, returns, deliverables and the delivery profile.

use super::diagnostics::{mix_layout, sanitize};
use super::{
    Breakpoint, BusSpec, DeliverableKind, DeliverableSpec, DeliverySpec, MAX_CHANNELS,
    MAX_DELIVERABLE_FILES, Plan, PlanBus, PlanDeliverable, PlanReturn, PlanSend, PlanSpeedVersion,
    PlanStem, Session, StemKind, StemSpec, TIME_OF_DAY_GAP_MINUTES, route,
};
use crate::io::{AudioReader, OutputFormat, WavInfo};
use crate::layout::{Channel, Layout};
use crate::timecode::Timecode;
use crate::{Error, Result};
use std::path::PathBuf;

impl Session {
    /// Opens every source's header and builds the render [`Plan`].
    pub fn resolve(&self) -> Result<Plan> {
        let f = &self.file;
        let sr = f.reel.sample_rate;
        let rate = self.frame_rate;
        let start_tc = match &f.reel.start {
            Some(t) => self.timecode(t)?,
            None => Timecode::parse(&format!("{:02}:00:00:00", f.reel.reel.min(23)), rate)?,
        };
        let start_abs = start_tc.to_samples(sr);
        let ffoa_tc = match &f.reel.ffoa {
            Some(t) => self.timecode(t)?,
            None => Timecode::from_frames(start_tc.to_frames() + 8 * rate.nominal() as i64, rate),
        };
        let ffoa = ffoa_tc.to_samples(sr) - start_abs;
        if ffoa < 0 {
            return Err(self.err(format!(
                "[reel] ffoa {ffoa_tc} is before the reel start {start_tc}"
            )));
        }

        // Buses: the three defaults unless the session defines its own.
        let mut buses: Vec<PlanBus> = Vec::new();
        let bus_specs: Vec<BusSpec> = if f.buses.is_empty() {
            ["DX", "MX", "FX"]
                .iter()
                .map(|id| BusSpec {
                    id: id.to_string(),
                    dialogue: *id == "DX",
                    gain_db: 0.0,
                    automation: vec![],
                })
                .collect()
        } else {
            f.buses.clone()
        };
        for b in &bus_specs {
            buses.push(PlanBus {
                id: b.id.clone(),
                dialogue: b.dialogue,
                gain_db: b.gain_db,
                automation: self.breakpoints(&b.automation, start_abs)?,
            });
        }

        // Stems.
        let mut stems = Vec::new();
        for s in &f.stems {
            stems.push(self.resolve_stem(s, &buses, start_abs)?);
        }
        for t in &f.tracks {
            stems.push(crate::timeline::resolve_track(self, t, &buses, start_abs)?);
        }

        let layout = match &f.reel.layout {
            Some(l) => mix_layout(l.get_ref()).map_err(|m| self.err_at(l.span(), m))?,
            None => {
                // 7.1 for any stem with side and rear pairs (7.x, 9.x, Auro 13.x, 6.x music).
                if stems.iter().any(|s| s.layout.has(Channel::Lss)) {
                    Layout::SevenOne
                } else if stems.iter().any(|s| s.layout.len() > 2) {
                    Layout::FiveOne
                } else {
                    Layout::Stereo
                }
            }
        };
        for s in &mut stems {
            s.matrix = crate::mix::route_matrix(s.layout, layout, s.pan);
        }
        let mut returns = Vec::new();
        for r in &f.returns {
            let bus = buses.iter().position(|b| b.id == r.bus).ok_or_else(|| {
                self.err(format!("return '{}': bus '{}' does not exist", r.id, r.bus))
            })?;
            let rl = match &r.layout {
                Some(l) => l
                    .get_ref()
                    .parse::<Layout>()
                    .map_err(|m| self.err_at(l.span(), m))?,
                None => layout,
            };
            returns.push(PlanReturn {
                id: r.id.clone(),
                bus,
                layout: rl,
                gain_db: r.gain_db,
                automation: self.breakpoints(&r.automation, start_abs)?,
                inserts: r.inserts.clone(),
                matrix: crate::mix::downmix_matrix(rl, layout),
            });
        }
        for (s, spec) in stems.iter_mut().zip(&f.stems) {
            for send in &spec.sends {
                let to = returns
                    .iter()
                    .position(|r| r.id == send.to)
                    .expect("checked");
                let ret = &returns[to];
                let dialogue_stem = matches!(spec.kind, StemKind::Dialogue | StemKind::Adr)
                    || (spec.kind == StemKind::Custom && spec.dialogue);
                if dialogue_stem && !buses[ret.bus].dialogue {
                    return Err(Error::stem(
                        &s.id,
                        format!(
                            "sends to return '{}', which feeds the non-dialogue bus '{}': dialogue reverb would leak into the M&E",
                            ret.id, buses[ret.bus].id
                        ),
                    ));
                }
                s.sends.push(PlanSend {
                    to,
                    db: send.db,
                    pre_fader: send.pre_fader,
                    automation: self.breakpoints(&send.automation, start_abs)?,
                    matrix: crate::mix::route_matrix(s.layout, ret.layout, s.pan),
                });
            }
        }

        let length = match &f.reel.length {
            Some(t) => {
                let tc = self.timecode(t)?;
                rate.frames_to_samples(tc.to_frames(), sr)
            }
            None => stems.iter().map(PlanStem::end).max().unwrap_or(0),
        };
        if length <= 0 {
            return Err(self.err(
                "the reel is empty: every stem ends before the reel start (give [reel] length?)",
            ));
        }
        let day = rate.day_samples(sr);
        if f.reel.length.is_none() && length > day {
            let last = stems.iter().max_by_key(|s| s.end()).expect("a stem");
            return Err(Error::stem(
                &last.id,
                format!(
                    "it ends {:.1} hours after the reel start, so the reel would last more than 24 hours; give [reel] length, or check the stem's `start` or its file's bext TimeReference",
                    last.end() as f64 / f64::from(sr) / 3600.0
                ),
            ));
        }
        if f.reel.length.is_none() {
            self.refuse_time_of_day_gap(&stems, &f.stems, start_abs, length)?;
        }
        // A stem wholly outside the reel would be silently left out: refuse it.
        for (st, spec) in stems.iter().zip(&f.stems) {
            if st.frames > 0 && (st.offset >= length || st.end() <= 0) {
                let tc = |x: i64| Timecode::from_samples(start_abs + x, rate, sr);
                return Err(Error::stem(
                    &st.id,
                    format!(
                        "it lies outside the reel: it runs from {} to {} (placed by its {}), the reel from {start_tc} to {}; nothing of it would be heard. Check its placement, the reel's start/length, or remove the stem",
                        tc(st.offset),
                        tc(st.end()),
                        if spec.start.is_some() {
                            "`start`"
                        } else if st.offset != 0 {
                            "file's bext TimeReference"
                        } else {
                            "default start, the reel start"
                        },
                        tc(length)
                    ),
                ));
            }
        }

        let lfoa = match &f.reel.lfoa {
            Some(t) => {
                let tc = self.timecode(t)?;
                let at = tc.to_samples(sr) - start_abs;
                if at < ffoa || at >= length {
                    return Err(self.err_at(
                        t.span(),
                        format!(
                            "[reel] lfoa {tc} lies outside the programme (from the ffoa {ffoa_tc} \
                             to the reel's last frame)"
                        ),
                    ));
                }
                at
            }
            None => {
                let last = rate.samples_to_frames(start_abs + length - 1, sr);
                (rate.frames_to_samples(last, sr) - start_abs).max(ffoa)
            }
        };

        let default_format = self
            .output_format(&f.output.format)?
            .unwrap_or(OutputFormat::Pcm24);
        let specs: Vec<DeliverableSpec> = if f.deliverables.is_empty() {
            [
                DeliverableKind::Printmaster,
                DeliverableKind::Loro,
                DeliverableKind::Me,
                DeliverableKind::Stems,
            ]
            .iter()
            .map(|&kind| DeliverableSpec {
                kind,
                format: None,
                multi_mono: None,
                name: None,
                layout: None,
            })
            .collect()
        } else {
            f.deliverables.clone()
        };
        let mut deliverables = Vec::new();
        for d in &specs {
            let format = self.output_format(&d.format)?.unwrap_or(default_format);
            let multi_mono = d.multi_mono.unwrap_or(f.output.multi_mono);
            let asked = match &d.layout {
                Some(l) => Some(mix_layout(l.get_ref()).map_err(|m| self.err_at(l.span(), m))?),
                None => None,
            };
            let out_layout = match d.kind {
                DeliverableKind::Loro | DeliverableKind::Ltrt => Layout::Stereo,
                _ => asked.unwrap_or(layout),
            };
            if out_layout.len() > layout.len()
                || out_layout
                    .channels()
                    .iter()
                    .any(|c| c.is_height() && !layout.has(*c))
            {
                return Err(self.err(format!(
                    "deliverable {:?}: layout {} is wider than the {} mix",
                    d.kind,
                    out_layout.name(),
                    layout.name()
                )));
            }
            let base = |what: &str, lay: Layout| {
                format!(
                    "{}_R{}_{}_{}",
                    sanitize(&f.reel.title),
                    f.reel.reel,
                    what,
                    lay.name()
                )
            };
            match d.kind {
                DeliverableKind::Stems => {
                    for (bi, b) in buses.iter().enumerate() {
                        deliverables.push(PlanDeliverable {
                            kind: d.kind,
                            name: base(&sanitize(&b.id), out_layout),
                            layout: out_layout,
                            format,
                            multi_mono,
                            bus: Some(bi),
                        });
                    }
                }
                k => {
                    let lay = out_layout;
                    deliverables.push(PlanDeliverable {
                        kind: k,
                        name: d
                            .name
                            .clone()
                            .map(|n| sanitize(&n))
                            .unwrap_or_else(|| base(k.label(), lay)),
                        layout: lay,
                        format,
                        multi_mono,
                        bus: None,
                    });
                }
            }
        }
        // File names, as written (multi-mono suffixes included), must differ even on a
        // case-insensitive file system.
        let mut names = std::collections::HashMap::new();
        let mut count = 0usize;
        for d in &deliverables {
            for file in d.files() {
                count += 1;
                if let Some((first, owner)) =
                    names.insert(file.to_lowercase(), (file.clone(), &d.name))
                {
                    let what = if first == file {
                        format!("would both write '{file}'")
                    } else {
                        format!(
                            "would write '{first}' and '{file}', one file on a case-insensitive disk"
                        )
                    };
                    return Err(self.err(format!(
                        "two deliverables ('{owner}' and '{}') {what}: give one a different `name`",
                        d.name
                    )));
                }
            }
        }
        if count > MAX_DELIVERABLE_FILES {
            return Err(self.err(format!(
                "the session would write {count} deliverable files; at most {MAX_DELIVERABLE_FILES} are supported"
            )));
        }

        Ok(Plan {
            session_path: self.path.clone(),
            session_sha256: crate::sha256_hex(self.text.as_bytes()),
            title: f.reel.title.clone(),
            reel: f.reel.reel,
            scene: f.reel.scene.clone().filter(|s| !s.is_empty()),
            take: f.reel.take.clone().filter(|s| !s.is_empty()),
            sample_rate: sr,
            frame_rate: rate,
            start_tc,
            start_samples: start_abs,
            ffoa,
            lfoa,
            length: length as u64,
            layout,
            buses,
            stems,
            returns,
            speed_versions: {
                let v = PlanSpeedVersion::resolve_all(&f.speed_version, rate)
                    .map_err(|e| self.err(e))?;
                for pv in &v {
                    for k in &pv.kinds {
                        if !deliverables.iter().any(|d| d.kind == *k) {
                            return Err(self.err(format!(
                                "[[speed_version]] speed \"{}\" names the kind \"{}\", which \
                                 no [[deliverable]] of the session has",
                                pv.version.speed,
                                format!("{k:?}").to_lowercase()
                            )));
                        }
                    }
                }
                v
            },
            deliverables,
            base_dir: self.dir.clone(),
            rf64_threshold: f
                .output
                .rf64_threshold
                .unwrap_or(u32::MAX as u64 - 1024 * 1024),
            bw64: f.output.bw64,
            dither_seed: f.output.dither_seed.unwrap_or(0x6475_6273_7461_6765),
            ffoa_tc,
            spotting: f.reel.spotting.as_deref().map(|p| self.resolve_path(p)),
            video: f
                .reel
                .video
                .as_deref()
                .map(|p| (self.resolve_path(p), f.reel.video_offset_s)),
            profile: self.profile()?,
            normalize: f.delivery.as_ref().is_some_and(|d| !d.measure_only),
            qc: {
                let q = f.qc.clone().unwrap_or_default();
                q.validate(sr).map_err(|e| self.err(format!("[qc]: {e}")))?;
                q
            },
        })
    }

    /// The delivery profile: the named preset with the session's overrides.
    pub fn profile(&self) -> Result<Option<crate::master::DeliveryProfile>> {
        let Some(d) = &self.file.delivery else {
            return Ok(None);
        };
        Self::profile_of(d, &|span, m| self.err_at(span, m)).map(Some)
    }

    /// The profile of a `[delivery]` table (a session's, or a feature's); `err_at` makes
    /// the error for a span of the table's text.
    pub fn profile_of(
        d: &DeliverySpec,
        err_at: &dyn Fn(std::ops::Range<usize>, &str) -> Error,
    ) -> Result<crate::master::DeliveryProfile> {
        use crate::master::{DeliveryProfile, GatingMode};
        let name = d.profile.get_ref();
        let mut p = if name.eq_ignore_ascii_case("custom") {
            let (Some(t), Some(tol), Some(c)) =
                (d.target_lufs, d.tolerance_lu, d.true_peak_ceiling_dbtp)
            else {
                return Err(err_at(
                    d.profile.span(),
                    "a custom profile needs target_lufs, tolerance_lu and true_peak_ceiling_dbtp",
                ));
            };
            DeliveryProfile::custom(t, tol, c, d.gating.unwrap_or(GatingMode::Programme))
                .map_err(|e| err_at(d.profile.span(), &e.to_string()))?
        } else {
            DeliveryProfile::preset(name).map_err(|e| err_at(d.profile.span(), &e.to_string()))?
        };
        if let Some(v) = d.target_lufs {
            p.target_lufs = v;
        }
        if let Some(v) = d.tolerance_lu {
            p.tolerance_lu = v;
        }
        if let Some(v) = d.true_peak_ceiling_dbtp {
            p.true_peak_ceiling_dbtp = v;
        }
        if let Some(v) = d.gating {
            p.gating = v;
        }
        if let Some(v) = d.max_limiter_gain_reduction_db {
            p.max_limiter_gain_reduction_db = v;
        }
        if let Some(v) = d.on_failure {
            p.on_failure = v;
        }
        p.validate()
            .map_err(|e| err_at(d.profile.span(), &e.to_string()))?;
        Ok(p)
    }

    /// A reel whose length comes from its stems must not stretch over hours of silence
    /// because a file's bext TimeReference is a time of day rather than a position on
    /// this reel (a recorder stamps 18:00:00:00 on a reel that starts at 01:00:00:00:
    /// a 17-hour print of silence around one line). A gap of more than
    /// [`TIME_OF_DAY_GAP_MINUTES`] with nothing playing, ended by a stem placed by its
    /// TimeReference, is refused; `start` on the stem or `[reel] length` says it is meant.
    fn refuse_time_of_day_gap(
        &self,
        stems: &[PlanStem],
        specs: &[StemSpec],
        start_abs: i64,
        length: i64,
    ) -> Result<()> {
        let f = &self.file;
        let (sr, rate) = (f.reel.sample_rate, self.frame_rate);
        let gap_max = i64::from(sr) * 60 * TIME_OF_DAY_GAP_MINUTES;
        // Stems first in plan order (tracks follow, placed by their clips' record timecode).
        let mut spans: Vec<(i64, i64, usize)> = stems
            .iter()
            .enumerate()
            .filter(|(_, s)| s.frames > 0)
            .map(|(i, s)| (s.offset.max(0), s.end().min(length), i))
            .filter(|(a, b, _)| a < b)
            .collect();
        spans.sort_unstable();
        let mut covered = 0i64;
        for &(a, b, i) in &spans {
            let by_time_reference = specs.get(i).is_some_and(|sp| sp.start.is_none());
            if a - covered > gap_max && by_time_reference {
                let tc = |x: i64| Timecode::from_samples(start_abs + x, rate, sr);
                let hours = |x: i64| x as f64 / f64::from(sr) / 3600.0;
                return Err(Error::stem(
                    &stems[i].id,
                    format!(
                        "its file's bext TimeReference places it at {}, {:.1} hours after the reel start {}, with nothing playing for {:.1} hours before it: that looks like a time of day, not a position on this reel. Give the stem a `start`, set [reel] start, or give [reel] length if the gap is meant",
                        tc(a),
                        hours(a),
                        tc(0),
                        hours(a - covered),
                    ),
                ));
            }
            covered = covered.max(b);
        }
        Ok(())
    }

    fn breakpoints(&self, bps: &[Breakpoint], start_abs: i64) -> Result<Vec<(i64, f64)>> {
        bps.iter()
            .map(|b| {
                Ok((
                    self.timecode(&b.at)?.to_samples(self.file.reel.sample_rate) - start_abs,
                    b.db,
                ))
            })
            .collect()
    }

    fn resolve_stem(&self, s: &StemSpec, buses: &[PlanBus], start_abs: i64) -> Result<PlanStem> {
        let sr = self.file.reel.sample_rate;
        let paths: Vec<PathBuf> = match (&s.source, &s.sources) {
            (Some(p), _) => vec![self.resolve_path(p)],
            (_, Some(v)) => v.iter().map(|p| self.resolve_path(p)).collect(),
            _ => unreachable!("checked in Session::check"),
        };
        let mut infos: Vec<WavInfo> = Vec::new();
        for p in &paths {
            if !p.exists() {
                return Err(Error::stem(
                    &s.id,
                    format!("source file {} does not exist", p.display()),
                ));
            }
            let r = AudioReader::open(p).map_err(|e| Error::stem(&s.id, e.to_string()))?;
            infos.push(r.info().clone());
        }
        let multi = paths.len() > 1 || s.sources.is_some();
        for i in &infos {
            if i.sample_rate != infos[0].sample_rate {
                return Err(Error::stem(
                    &s.id,
                    format!(
                        "{} is at {} Hz but {} is at {} Hz: multi-mono sources share one sample rate",
                        i.path.display(),
                        i.sample_rate,
                        infos[0].path.display(),
                        infos[0].sample_rate
                    ),
                ));
            }
            if multi && i.channels != 1 {
                return Err(Error::stem(
                    &s.id,
                    format!(
                        "{} has {} channels; multi-mono sources must be mono",
                        i.path.display(),
                        i.channels
                    ),
                ));
            }
        }
        let channels = if multi {
            infos.len()
        } else {
            infos[0].channels as usize
        };
        if channels > MAX_CHANNELS {
            return Err(Error::stem(
                &s.id,
                format!(
                    "{} has {channels} channels; a stem has at most {MAX_CHANNELS}",
                    paths[0].display()
                ),
            ));
        }
        let frames = if multi {
            let f0 = infos[0].frames;
            if let Some(i) = infos.iter().find(|i| i.frames != f0) {
                return Err(Error::stem(
                    &s.id,
                    format!(
                        "multi-mono sources differ in length: {} has {} frames, {} has {f0}",
                        i.path.display(),
                        i.frames,
                        infos[0].path.display()
                    ),
                ));
            }
            f0
        } else {
            infos[0].frames
        };

        // Layout: explicit, else the channel order's set, else the mask, else the count.
        let order: Option<Vec<Channel>> = s.channel_order.as_ref().map(|v| {
            v.iter()
                .map(|c| c.get_ref().parse::<Channel>().expect("checked"))
                .collect()
        });
        let layout = if let Some(l) = &s.layout {
            l.get_ref().parse::<Layout>().expect("checked")
        } else if let Some(o) = &order {
            Layout::from_channels(o).ok_or_else(|| {
                let names: Vec<&str> = o.iter().map(|c| c.label()).collect();
                Error::stem(
                    &s.id,
                    format!(
                        "channel_order [{}] does not match any known layout (layouts: {})",
                        names.join(" "),
                        Layout::ALL.map(|l| l.name()).join(", ")
                    ),
                )
            })?
        } else if multi {
            Layout::from_count(channels).ok_or_else(|| {
                Error::stem(
                    &s.id,
                    format!(
                        "cannot tell the layout of {channels} mono sources: give `layout` or `channel_order`"
                    ),
                )
            })?
        } else {
            let names: Vec<String> = infos[0]
                .ixml
                .as_ref()
                .map(|x| x.tracks.iter().map(|t| t.name.clone()).collect())
                .unwrap_or_default();
            crate::layout::identify(channels, infos[0].channel_mask, &names)
                .map_err(|p| Error::stem(&s.id, format!("{}: {p}", paths[0].display())))?
                .layout
        };
        if layout.len() != channels {
            return Err(Error::stem(
                &s.id,
                format!(
                    "{} has {channels} channel(s) but the layout {} needs {}",
                    paths[0].display(),
                    layout.name(),
                    layout.len()
                ),
            ));
        }
        // file channel i -> layout index
        let map: Vec<usize> = match &order {
            Some(o) => {
                if o.len() != channels {
                    return Err(Error::stem(
                        &s.id,
                        format!(
                            "channel_order names {} channels but the source has {channels}",
                            o.len()
                        ),
                    ));
                }
                let mut seen = vec![false; channels];
                let mut m = Vec::new();
                for c in o {
                    let idx = layout.index_of(*c).ok_or_else(|| {
                        Error::stem(
                            &s.id,
                            format!("channel {c} is not part of layout {}", layout.name()),
                        )
                    })?;
                    if seen[idx] {
                        return Err(Error::stem(
                            &s.id,
                            format!("channel {c} appears twice in channel_order"),
                        ));
                    }
                    seen[idx] = true;
                    m.push(idx);
                }
                m
            }
            None => (0..channels).collect(),
        };

        // another sample rate or a speed change: the stem plays as one converted clip
        let speed = match &s.speed {
            Some(t) => {
                crate::resample::Speed::parse(t).map_err(|e| Error::stem(&s.id, e.to_string()))?
            }
            None => crate::resample::Speed::UNITY,
        };
        let file_rate = infos[0].sample_rate;
        let ratio = crate::timeline::clip_ratio(file_rate, sr, speed)
            .map_err(|e| Error::stem(&s.id, e.to_string()))?;
        let offset = match &s.start {
            Some(t) => self.timecode(t)?.to_samples(sr) - start_abs,
            None => match infos[0].bext.as_ref().filter(|b| b.time_reference > 0) {
                Some(b) => {
                    // Samples since midnight, counted in the file's own samples: more
                    // than a day of them is a damaged or hostile header, not a place on
                    // any reel.
                    let day = self.frame_rate.day_samples(file_rate);
                    match i64::try_from(b.time_reference) {
                        // A converted file keeps its frame numbers (a speed change is a
                        // transfer, see `feature::speed`): its TimeReference lands at
                        // TR × the conversion's ratio on the reel, exactly.
                        Ok(t) if t <= day => crate::timeline::source_to_reel(t, ratio) - start_abs,
                        _ => {
                            return Err(Error::stem(
                                &s.id,
                                format!(
                                    "{}: bext TimeReference {} samples is beyond one day ({day} samples at {file_rate} Hz, {}): the header is damaged; give the stem a `start`",
                                    infos[0].path.display(),
                                    b.time_reference,
                                    self.frame_rate
                                ),
                            ));
                        }
                    }
                }
                None => 0,
            },
        };
        if i64::try_from(frames).is_err() {
            return Err(Error::stem(
                &s.id,
                format!(
                    "{}: {frames} frames is not a plausible length",
                    paths[0].display()
                ),
            ));
        }

        let bus = route(&s.id, "stem", s.kind, s.dialogue, s.bus.as_deref(), buses)?;
        let clips = if ratio == (1, 1) {
            Vec::new()
        } else {
            vec![crate::timeline::whole_file_clip(
                &s.id,
                &paths,
                &map,
                layout.len(),
                frames,
                offset,
                file_rate,
                speed,
                ratio,
            )]
        };
        let frames = clips.first().map_or(frames, |c| c.length);
        Ok(PlanStem {
            id: s.id.clone(),
            kind: s.kind,
            paths,
            containers: infos.iter().map(|i| i.container).collect(),
            layout,
            file_to_layout: map,
            frames,
            offset,
            gain_db: s.gain_db,
            mute: s.mute,
            bus,
            pan: s.pan.unwrap_or_default(),
            automation: self.breakpoints(&s.automation, start_abs)?,
            matrix: Vec::new(),
            inserts: s.inserts.clone(),
            sends: Vec::new(),
            clips,
        })
    }
}
