//! Deciding a batch in memory, command after command, and the steps
//! that write what was decided.

use std::collections::BTreeMap;

use sqlx::Row as _;

use super::statements::*;
use super::*;

impl Plan {
    pub(super) fn new(now: i64) -> Self {
        Self {
            now,
            ..Self::default()
        }
    }

    /// The plan of a batch from what its read answered.
    pub(super) fn from_rows(
        jobs: &[(&Command, &Actor)],
        rows: &[Row],
        now: i64,
    ) -> AppResult<Self> {
        let mut plan = Self::new(now);
        for (command, _) in jobs {
            for (key, organization) in keys_of(command) {
                plan.stock.entry(key).or_insert_with(|| Stock {
                    organization_id: organization.to_string(),
                    ..Stock::default()
                });
            }
        }
        for r in rows {
            let kind: String = r.try_get("row_kind")?;
            let key: Key = (r.try_get("pantry_id")?, r.try_get("product_id")?);
            let Some(stock) = plan.stock.get_mut(&key) else {
                continue;
            };
            if kind == "stock" {
                let on_hand: i64 = r.try_get("on_hand")?;
                stock.on_hand = on_hand;
                stock.read = Some(on_hand);
                stock.revision = Some(r.try_get("revision")?);
            } else {
                stock.lots.push(Lot {
                    id: r.try_get("id")?,
                    best_before: r.try_get("best_before")?,
                    received_at: r.try_get("received_at")?,
                    quantity: r.try_get("quantity")?,
                    new: false,
                    changed: false,
                });
            }
        }
        Ok(plan)
    }

    /// Decides every command in order. `Err` fails the whole batch.
    pub(super) async fn decide(
        &mut self,
        conn: &mut Conn,
        backend: Backend,
        jobs: &[(&Command, &Actor)],
    ) -> AppResult<Vec<AppResult<Written>>> {
        let mut outcomes = Vec::with_capacity(jobs.len());
        for (command, actor) in jobs {
            let mark = self.mark(command);
            match self.execute(conn, backend, command, actor).await? {
                Ok(written) => outcomes.push(Ok(written)),
                Err(refusal) => {
                    self.restore(mark);
                    outcomes.push(Err(refusal));
                }
            }
        }
        Ok(outcomes)
    }

    fn mark(&self, command: &Command) -> Mark {
        let keys = keys_of(command);
        Mark {
            movements: self.movements.len(),
            movement_lots: self.movement_lots.len(),
            events: self.events.len(),
            organization_stock: keys
                .iter()
                .map(|((_, product), organization)| {
                    let k = (organization.to_string(), product.clone());
                    let v = self.organization_stock.get(&k).copied();
                    (k, v)
                })
                .collect(),
            stock: keys
                .into_iter()
                .map(|(k, _)| {
                    let v = self.stock.get(&k).cloned();
                    (k, v)
                })
                .collect(),
        }
    }

    fn restore(&mut self, mark: Mark) {
        self.movements.truncate(mark.movements);
        self.movement_lots.truncate(mark.movement_lots);
        self.events.truncate(mark.events);
        for (k, v) in mark.stock.into_iter().rev() {
            match v {
                Some(v) => self.stock.insert(k, v),
                None => self.stock.remove(&k),
            };
        }
        for (k, v) in mark.organization_stock.into_iter().rev() {
            match v {
                Some(v) => self.organization_stock.insert(k, v),
                None => self.organization_stock.remove(&k),
            };
        }
    }

    /// Decides one command. The outer error fails the whole batch; the
    /// inner one refuses this command (the caller restores the plan).
    async fn execute(
        &mut self,
        conn: &mut Conn,
        backend: Backend,
        command: &Command,
        actor: &Actor,
    ) -> AppResult<AppResult<Written>> {
        match command {
            Command::Change {
                pantry,
                product,
                change,
            } => {
                let done = match self.apply(pantry, product, change, actor)? {
                    Ok(done) => done,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                self.events
                    .push(moved_event(pantry, product, change, actor, &done));
                Ok(Ok(Written::One(MovementReceipt {
                    movement_id: done.0,
                    product_name: product.name.clone(),
                    quantity_text: product.unit.format(change.quantity().abs()),
                    on_hand: done.1,
                    on_hand_text: product.unit.format(done.1),
                })))
            }
            Command::Transfer {
                from,
                to,
                product,
                quantity,
                note,
            } => {
                let out = Change::Transferred {
                    quantity: -quantity,
                    best_before: None,
                    counterpart: to.id.to_string(),
                    note: note.clone(),
                };
                let out_done = match self.apply(from, product, &out, actor)? {
                    Ok(done) => done,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                self.events
                    .push(moved_event(from, product, &out, actor, &out_done));
                // Each lot taken arrives with its own best-before date.
                for lot in &out_done.2 {
                    let part = Change::Transferred {
                        quantity: -lot.quantity,
                        best_before: lot.best_before.clone(),
                        counterpart: from.id.to_string(),
                        note: note.clone(),
                    };
                    let done = match self.apply(to, product, &part, actor)? {
                        Ok(done) => done,
                        Err(refusal) => return Ok(Err(refusal)),
                    };
                    self.events
                        .push(moved_event(to, product, &part, actor, &done));
                }
                Ok(Ok(Written::One(MovementReceipt {
                    movement_id: out_done.0,
                    product_name: product.name.clone(),
                    quantity_text: product.unit.format(*quantity),
                    on_hand: out_done.1,
                    on_hand_text: product.unit.format(out_done.1),
                })))
            }
            Command::Group {
                pantry,
                lines,
                attachment,
            } => {
                if let Err(e) = attachment.check(conn, backend).await {
                    return if is_refusal(&e) { Ok(Err(e)) } else { Err(e) };
                }
                // Every short line is named, not only the first: the
                // stock each product needs over all its lines.
                let mut needed: BTreeMap<&str, (&Product, i64)> = BTreeMap::new();
                for (product, change) in lines {
                    if change.quantity() < 0 {
                        needed.entry(product.id.as_str()).or_insert((product, 0)).1 -=
                            change.quantity();
                    }
                }
                let short: Vec<String> = needed
                    .values()
                    .filter_map(|(product, wanted)| {
                        let key = (pantry.id.to_string(), product.id.to_string());
                        let on_hand = self.stock.get(&key).map_or(0, |s| s.on_hand);
                        (*wanted > on_hand)
                            .then(|| not_enough(product, pantry, on_hand, *wanted).to_string())
                    })
                    .collect();
                if !short.is_empty() {
                    return Ok(Err(AppError::conflict("lines", short.join(" "))));
                }
                let mut posted = Vec::with_capacity(lines.len());
                for (product, change) in lines {
                    let done = match self.apply(pantry, product, change, actor)? {
                        Ok(done) => done,
                        Err(refusal) => return Ok(Err(refusal)),
                    };
                    self.events
                        .push(moved_event(pantry, product, change, actor, &done));
                    posted.push(Posted {
                        product_id: product.id.clone(),
                        movement_id: done.0,
                        quantity: change.quantity(),
                        on_hand: done.1,
                        lots: done.2,
                    });
                }
                // The attachment has written rows by the time it fails, so
                // any failure here fails the batch: each command is then
                // written in a transaction of its own.
                for event in attachment.write(conn, backend, &posted, self.now).await? {
                    self.events.push(PendingEvent {
                        event,
                        organization_id: pantry.organization_id.to_string(),
                        pantry_id: pantry.id.to_string(),
                        actor_id: actor.user_id.clone(),
                        correlation_id: actor.correlation_id.clone(),
                        client_ip: actor.client_ip.clone(),
                        trace_parent: actor.trace_parent.clone(),
                    });
                }
                Ok(Ok(Written::Group(posted)))
            }
        }
    }

    /// Applies one change to the stock row and its lots in memory, and
    /// queues its ledger line. Returns the movement id, the stock after it
    /// and the lots it touched; a refusal may leave the plan changed, so
    /// the caller restores it.
    #[allow(clippy::type_complexity)]
    fn apply(
        &mut self,
        pantry: &PantryHeader,
        product: &Product,
        change: &Change,
        actor: &Actor,
    ) -> AppResult<AppResult<(MovementId, i64, Vec<LotChange>)>> {
        let now = self.now;
        let key = (pantry.id.to_string(), product.id.to_string());
        let stock = self.stock.entry(key).or_insert_with(|| Stock {
            organization_id: pantry.organization_id.to_string(),
            ..Stock::default()
        });
        let lots = if change.quantity() > 0 {
            let Some(after) = stock
                .on_hand
                .checked_add(change.quantity())
                .filter(|n| *n <= MAX_ON_HAND)
            else {
                return Ok(Err(AppError::invalid(
                    "quantity",
                    format!(
                        "{} holds {} of {}; a pantry holds at most {} of one product.",
                        pantry.name,
                        product.unit.format(stock.on_hand),
                        product.name,
                        product.unit.format(MAX_ON_HAND)
                    ),
                )));
            };
            let lot = match stock
                .lots
                .iter()
                .enumerate()
                .filter(|(_, l)| l.best_before.as_deref() == change.best_before())
                .min_by(|a, b| expiry_order(a.1, b.1))
                .map(|(i, _)| i)
            {
                Some(i) => &mut stock.lots[i],
                None => {
                    stock.lots.push(Lot {
                        id: LotId::new().into_string(),
                        best_before: change.best_before().map(str::to_string),
                        received_at: now,
                        quantity: 0,
                        new: true,
                        changed: true,
                    });
                    stock.lots.last_mut().expect("a lot was just added")
                }
            };
            lot.quantity += change.quantity();
            lot.changed = true;
            stock.on_hand = after;
            vec![LotChange {
                lot_id: lot.id.clone(),
                best_before: lot.best_before.clone(),
                quantity: change.quantity(),
            }]
        } else {
            let wanted = -change.quantity();
            if wanted > stock.on_hand {
                return Ok(Err(not_enough(product, pantry, stock.on_hand, wanted)));
            }
            let taken: Vec<(usize, i64)> = match change.from_lot() {
                Some(named) => {
                    let Some(i) = stock.lots.iter().position(|l| l.id == named.as_str()) else {
                        return Ok(Err(AppError::invalid(
                            "lot",
                            "That lot is not part of this pantry's stock of the product.",
                        )));
                    };
                    if stock.lots[i].quantity < wanted {
                        return Ok(Err(AppError::conflict(
                            "quantity",
                            format!(
                                "That lot holds only {} of {}; you asked for {}.",
                                product.unit.format(stock.lots[i].quantity),
                                product.name,
                                product.unit.format(wanted)
                            ),
                        )));
                    }
                    vec![(i, wanted)]
                }
                None => {
                    let mut order: Vec<usize> = (0..stock.lots.len())
                        .filter(|&i| stock.lots[i].quantity > 0)
                        .collect();
                    order.sort_by(|&a, &b| expiry_order(&stock.lots[a], &stock.lots[b]));
                    let mut left = wanted;
                    let mut taken = Vec::new();
                    for i in order {
                        if left == 0 {
                            break;
                        }
                        let take = left.min(stock.lots[i].quantity);
                        taken.push((i, take));
                        left -= take;
                    }
                    if left > 0 {
                        // The lots do not add up to the stock row: the
                        // ledger and the lots disagree, and nothing may be
                        // written until someone looks.
                        return Err(AppError::internal(&std::io::Error::other(format!(
                            "lots of product {} at pantry {} hold {left} less than its stock row",
                            product.id, pantry.id
                        ))));
                    }
                    taken
                }
            };
            stock.on_hand -= wanted;
            taken
                .into_iter()
                .map(|(i, take)| {
                    let lot = &mut stock.lots[i];
                    lot.quantity -= take;
                    lot.changed = true;
                    LotChange {
                        lot_id: lot.id.clone(),
                        best_before: lot.best_before.clone(),
                        quantity: -take,
                    }
                })
                .collect()
        };
        let on_hand = stock.on_hand;
        let movement = MovementId::new();
        *self
            .organization_stock
            .entry((pantry.organization_id.to_string(), product.id.to_string()))
            .or_default() += change.quantity();
        self.movements.push(MovementRow {
            id: movement.clone(),
            organization_id: pantry.organization_id.to_string(),
            pantry_id: pantry.id.to_string(),
            product_id: product.id.to_string(),
            change: change.clone(),
            actor: actor.clone(),
            occurred_at: now,
        });
        for l in &lots {
            self.movement_lots.push((movement.clone(), l.clone()));
        }
        Ok(Ok((movement, on_hand, lots)))
    }

    /// The steps that write the plan: stock rows, lots, ledger, lot
    /// lines, organization totals, events, and the commit.
    pub(super) fn write_steps(&self, backend: Backend) -> AppResult<Steps> {
        let mut s = Steps::new(backend);
        let now = self.now;
        let mut remembered = Vec::new();
        let mut updated = Vec::new();
        let mut created = Vec::new();
        let mut lots = Vec::new();
        let mut new_lots = Vec::new();
        for ((pantry, product), st) in &self.stock {
            match st.read {
                Some(_) if self.remembered => remembered.push(vec![
                    pantry.into(),
                    product.into(),
                    st.on_hand.into(),
                    now.into(),
                    st.revision.unwrap_or(-1).into(),
                ]),
                Some(_) if st.changed() => updated.push(vec![
                    pantry.into(),
                    product.into(),
                    st.on_hand.into(),
                    now.into(),
                ]),
                Some(_) => {}
                // A row that was not there: only an increase makes one
                // (and its lots need it).
                None if st.lots.iter().any(|l| l.new) => created.push(vec![
                    pantry.into(),
                    product.into(),
                    (&st.organization_id).into(),
                    st.on_hand.into(),
                    now.into(),
                ]),
                None => {}
            }
            for lot in st.lots.iter().filter(|l| l.changed) {
                if lot.new {
                    new_lots.push(vec![
                        (&lot.id).into(),
                        pantry.into(),
                        product.into(),
                        lot.best_before.as_ref().into(),
                        lot.quantity.into(),
                        lot.received_at.into(),
                    ]);
                } else {
                    lots.push(vec![(&lot.id).into(), lot.quantity.into()]);
                }
            }
        }
        let movements: Vec<Vec<Value>> = self
            .movements
            .iter()
            .map(|m| {
                let c = &m.change;
                vec![
                    m.id.as_str().into(),
                    (&m.organization_id).into(),
                    (&m.pantry_id).into(),
                    (&m.product_id).into(),
                    c.kind().as_str().into(),
                    c.quantity().into(),
                    c.reason().into(),
                    c.source().into(),
                    c.donor().into(),
                    c.weight_g().into(),
                    c.counterpart().into(),
                    c.note().into(),
                    c.visit().into(),
                    (&m.actor.user_id).into(),
                    (&m.actor.correlation_id).into(),
                    m.occurred_at.into(),
                ]
            })
            .collect();
        let movement_lots: Vec<Vec<Value>> = self
            .movement_lots
            .iter()
            .map(|(movement, lot)| {
                vec![
                    movement.as_str().into(),
                    (&lot.lot_id).into(),
                    lot.quantity.into(),
                ]
            })
            .collect();
        let totals: Vec<Vec<Value>> = self
            .organization_stock
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .map(|((organization, product), delta)| {
                vec![organization.into(), product.into(), (*delta).into()]
            })
            .collect();
        let events: Vec<events::NewEvent<'_>> = self
            .events
            .iter()
            .map(|e| events::NewEvent {
                event: &e.event,
                organization_id: &e.organization_id,
                pantry_id: Some(&e.pantry_id),
                actor_id: Some(&e.actor_id),
                correlation_id: &e.correlation_id,
                client_ip: e.client_ip.as_deref(),
                trace_parent: e.trace_parent.as_deref(),
                occurred_at: now,
            })
            .collect();
        if self.remembered
            && backend == Backend::Postgres
            && updated.is_empty()
            && created.is_empty()
        {
            let events = events::rows(&events)?;
            s.statement(
                &WRITE_REMEMBERED,
                &[
                    &remembered,
                    &lots,
                    &new_lots,
                    &movements,
                    &movement_lots,
                    &totals,
                    &events,
                ],
            )?;
            return Ok(s);
        }
        if self.remembered {
            s.plain(begin(backend));
            s.statement(&WRITE_REMEMBERED_STOCK, &[&remembered])?
                .changing(remembered.len() as u64);
        }
        // In this order: lots need their stock row, lot lines their lot
        // and movement; the organization totals' row locks come before the
        // events' order lock.
        for (statement, rows) in [
            (&UPDATE_STOCK, &updated),
            (&ADD_STOCK, &created),
            (&UPDATE_LOTS, &lots),
            (&INSERT_LOTS, &new_lots),
            (&INSERT_MOVEMENTS, &movements),
            (&INSERT_MOVEMENT_LOTS, &movement_lots),
            (&ADD_ORGANIZATION_STOCK, &totals),
        ] {
            if !rows.is_empty() {
                s.statement(statement, &[rows])?;
            }
        }
        events::append_to_steps(&mut s, &events)?;
        s.plain("commit");
        Ok(s)
    }
}
