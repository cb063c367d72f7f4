# weir — the developer's verbs. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Builds share one target dir; CI points it outside the clone to cache it.
target := env_var_or_default("CARGO_TARGET_DIR", justfile_directory() + "/target")
plugins := "bench-echo customer-events purchases-gen purchases-validate purchases-daily campaign-views campaign-minute cdc-gen cdc-shape cdc-table gtfs-rt test-misbehave test-future-version test-bad-import purchases-validate-py mask-js test-py-random test-js-random"
venv := justfile_directory() + "/.venv"

# List the recipes.
default:
    @just --list

# Install what a fresh machine lacks (wasm target, Python venv for interop tests).
setup:
    rustup target add wasm32-wasip2
    test -x {{venv}}/bin/python || python3 -m venv {{venv}}
    {{venv}}/bin/pip install --quiet --disable-pip-version-check -r host/tests/interop/requirements.txt

# Build one plugin component (or all) into target/plugins/NAME.wasm: Rust
# crates with cargo, Python with componentize-py, JavaScript with componentize-js.
plugin NAME="":
    #!/usr/bin/env bash
    set -euo pipefail
    names="{{NAME}}"; [ -n "$names" ] || names="{{plugins}}"
    rust=(); other=()
    for n in $names; do
        if [ -f "plugins/$n/Cargo.toml" ]; then rust+=("$n"); else other+=("$n"); fi
    done
    mkdir -p target/plugins
    if [ ${#rust[@]} -gt 0 ]; then
        args=(); for n in "${rust[@]}"; do args+=(-p "$n"); done
        cargo build --target wasm32-wasip2 --profile plugin "${args[@]}"
        for n in "${rust[@]}"; do
            cp "{{target}}/wasm32-wasip2/plugin/${n//-/_}.wasm" "target/plugins/$n.wasm"
            echo "built target/plugins/$n.wasm ($(stat -c %s "target/plugins/$n.wasm") bytes)"
        done
    fi
    if [ ${#other[@]} -gt 0 ]; then
        for n in "${other[@]}"; do
            [ -f "plugins/$n/pyproject.toml" ] && just plugin-tools python
            [ -f "plugins/$n/package.json" ] && just plugin-tools js
        done
        {{venv}}/bin/python plugins/build.py target/plugins "${other[@]}"
    fi

# The toolchain Python (componentize-py in the venv) or JavaScript
# (componentize-js and rolldown under plugins/sdk-js) plugins build with, when
# missing; plugins/build.py itself runs in the venv.
plugin-tools LANG:
    #!/usr/bin/env bash
    set -euo pipefail
    case "{{LANG}}" in
        python)
            test -x {{venv}}/bin/python || python3 -m venv {{venv}}
            test -x {{venv}}/bin/componentize-py \
                || {{venv}}/bin/pip install --quiet --disable-pip-version-check "componentize-py==0.25.1" ;;
        js)
            test -x {{venv}}/bin/python || python3 -m venv {{venv}}
            test -d plugins/sdk-js/node_modules \
                || npm ci --prefix plugins/sdk-js --no-audit --no-fund --loglevel=error ;;
        *) echo "plugin-tools: python or js" >&2; exit 2 ;;
    esac

# Play plugin fixtures through the sandbox (all plugins with fixtures, or NAME);
# `just conformance NAME --bless` rewrites the expectations.
conformance *ARGS: build
    #!/usr/bin/env bash
    set -euo pipefail
    names=(); for a in {{ARGS}}; do [[ "$a" == -* ]] || names+=("$a"); done
    if [ ${#names[@]} -gt 0 ]; then just plugin "${names[*]}"; else just plugin; fi
    {{target}}/debug/weir conformance {{ARGS}}

# What a new plugin author does, for each world: scaffold, build, pass the
# template's fixture and unit test. Leaves the tree as it was.
template-check: build
    #!/usr/bin/env bash
    set -euo pipefail
    rust="tmpl-check-source tmpl-check-transform tmpl-check-aggregator"
    names="$rust"
    for lang in py js; do
        for w in source transform aggregator; do names="$names tmpl-check-$lang-$w"; done
    done
    cp Cargo.lock "{{target}}/Cargo.lock.template-check"
    cp Cargo.toml "{{target}}/Cargo.toml.template-check"
    cleanup() {
        for n in $names; do rm -rf "plugins/$n" "target/plugins/$n.wasm"; done
        cp "{{target}}/Cargo.lock.template-check" Cargo.lock
        cp "{{target}}/Cargo.toml.template-check" Cargo.toml
    }
    trap cleanup EXIT
    for w in source transform aggregator; do
        {{target}}/debug/weir plugin new "tmpl-check-$w" --world "$w" > /dev/null
        {{target}}/debug/weir plugin new "tmpl-check-py-$w" --world "$w" --lang python > /dev/null
        {{target}}/debug/weir plugin new "tmpl-check-js-$w" --world "$w" --lang js > /dev/null
    done
    just plugin "$names"
    {{target}}/debug/weir conformance $names
    cargo test -q $(for n in $rust; do echo -p $n; done)

# Build the host binary.
build:
    cargo build -p weir

# Run the purchases pipeline on the embedded broker: generator → topic →
# validation → daily totals → a report on the console every 10 s.
demo SECS="25": plugin build
    {{target}}/debug/weir run connectors/purchases-gen.toml connectors/purchases.toml --duration {{SECS}}

# The CDC simulation on the embedded broker: users table changes → Debezium
# envelopes on a compacted topic → live changes and table on the console.
demo-cdc SECS="20": plugin build
    EVENTS_PER_SEC=${EVENTS_PER_SEC:-20} {{target}}/debug/weir run connectors/cdc-source.toml connectors/cdc-view.toml --duration {{SECS}}

# Campaign views: 20 minutes of view logs (simulated clock, as fast as the
# machine goes) → per-minute, per-campaign counts and average durations joined
# with campaigns.csv → Hive-partitioned Parquet in OUT, read back with pyarrow.
demo-campaign OUT="out/campaign-minute": setup plugin build
    rm -rf {{OUT}} .weir/demo-campaign
    MAX_VIEWS=240000 SIMULATED_VIEWS_PER_SEC=200 VIEWS_PER_SEC=0 OUTPUT_DIR={{OUT}} \
        {{target}}/debug/weir run connectors/campaign-views.toml connectors/campaign-minute.toml \
        --exit-at-end --state-dir .weir/demo-campaign
    {{venv}}/bin/python -c "import pyarrow.dataset as ds; t = ds.dataset('{{OUT}}', format='parquet', partitioning='hive').to_table(); print(t.num_rows, 'rows in {{OUT}}'); print(t.slice(0, 10).to_pylist())"

# GTFS-realtime without internet: the recorded fixture feeds are served on
# loopback and polled every 5 s → gtfs-rt plugin → `dev_topic` (plus a console
# view of the topic).
demo-gtfs SECS="20": plugin build
    #!/usr/bin/env bash
    set -euo pipefail
    python3 -m http.server 8089 --bind 127.0.0.1 --directory plugins/gtfs-rt/fixtures > /dev/null 2>&1 &
    server=$!
    trap 'kill $server' EXIT
    VEHICLE_URL=http://127.0.0.1:8089/vehicles/feed0.pb POLL_INTERVAL_MS=5000 KAFKA_TOPIC=dev_topic \
        {{target}}/debug/weir run connectors/gtfs-vehicles.toml connectors/gtfs-console.toml --duration {{SECS}}

# PostgreSQL change data capture on a throwaway server: a users table and its
# snapshot, a workload of inserts, updates and deletes, the change log in Kafka
# (postgres-cdc.toml) and a replica database converging (postgres-replica.toml).
demo-postgres: build
    #!/usr/bin/env bash
    set -euo pipefail
    weir={{target}}/debug/weir
    dir=$(mktemp -d /tmp/weir-demo-pg.XXXXXX)
    root=false; [ "$(id -u)" = 0 ] && root=true
    as_pg() { if $root; then runuser -u postgres -- "$@"; else "$@"; fi; }
    free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
    echo weir-demo > "$dir/pw"
    if $root; then chown -R postgres "$dir"; fi
    as_pg initdb -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/pw" --no-sync > /dev/null
    pg=$(free_port); kafka=$(free_port); registry=$(free_port)
    as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w start \
        -o "-p $pg -k $dir -c listen_addresses=127.0.0.1 -c wal_level=logical" > /dev/null
    hosts=(); broker=
    cleanup() {
        # The connectors stop first (SIGTERM: a last checkpoint), then the broker.
        [ ${#hosts[@]} -eq 0 ] || { kill -TERM "${hosts[@]}" 2> /dev/null; wait "${hosts[@]}" 2> /dev/null; } || true
        [ -z "$broker" ] || { kill "$broker"; wait "$broker"; } 2> /dev/null || true
        as_pg pg_ctl -D "$dir/data" -m immediate stop > /dev/null || true
        rm -rf "$dir"
    }
    trap cleanup EXIT
    src="postgres://postgres:weir-demo@127.0.0.1:$pg/postgres"
    replica="postgres://postgres:weir-demo@127.0.0.1:$pg/replica"
    table="CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, balance numeric(12,2), tags text[], seen timestamptz)"
    psql -X -q "$src" -c "$table" -c "INSERT INTO users SELECT i, 'user ' || i, i * 10, ARRAY['new'], now() FROM generate_series(1, 20) i" -c "CREATE DATABASE replica"
    psql -X -q "$replica" -c "$table"
    echo "PostgreSQL on 127.0.0.1:$pg: 20 users; an empty replica database"
    "$weir" broker --listen 127.0.0.1:$kafka --registry-listen 127.0.0.1:$registry 2> "$dir/broker.log" &
    broker=$!
    until (echo > /dev/tcp/127.0.0.1/$kafka) 2> /dev/null; do sleep 0.2; done
    export KAFKA_BROKER=127.0.0.1:$kafka WEIR_LOG=warn
    PG_URL=$src "$weir" run connectors/postgres-cdc.toml --state-dir "$dir/state" &
    hosts+=($!)
    PG_URL=$replica "$weir" run connectors/postgres-replica.toml --state-dir "$dir/state" &
    hosts+=($!)
    for round in $(seq 1 8); do
        psql -X -q "$src" \
            -c "INSERT INTO users SELECT i, 'user ' || i, i, ARRAY['round $round'], now() FROM generate_series(20 + $round * 5 - 4, 20 + $round * 5) i" \
            -c "UPDATE users SET balance = balance + 1, seen = now() WHERE id % 3 = $round % 3" \
            -c "DELETE FROM users WHERE id = $round * 4"
        sleep 1
    done
    sleep 3
    echo; echo "── the change log (pg.public.users), last 6 ──"
    "$weir" tail pg.public.users --bootstrap-servers "$KAFKA_BROKER" --from-beginning --idle 2 | tail -n 6
    summary="SELECT count(*) || ' rows, balance ' || sum(balance) || ', digest ' || md5(string_agg(u::text, ',' ORDER BY id)) FROM users u"
    echo; echo "── source  ── $(psql -X -qtA "$src" -c "$summary")"
    echo "── replica ── $(psql -X -qtA "$replica" -c "$summary")"
    if [ "$(psql -X -qtA "$src" -c "$summary")" = "$(psql -X -qtA "$replica" -c "$summary")" ]; then
        echo "the replica has converged"
    else
        echo "the replica differs from the source"; exit 1
    fi

# Unit, integration and interop tests.
test: setup plugin build
    {{target}}/debug/weir validate connectors/*.toml
    cargo test --workspace --exclude test-misbehave --exclude test-future-version --exclude test-bad-import
    cargo test --manifest-path vendor/Cargo.toml --target-dir "{{target}}" -p tansu-storage -p tansu-broker --features tansu-storage/dynostore,tansu-broker/dynostore --lib weir_tests
    {{target}}/debug/weir conformance
    {{venv}}/bin/python -m unittest discover -s plugins/sdk-py/tests -t plugins/sdk-py
    {{venv}}/bin/python -m unittest discover -s plugins/purchases-validate-py/tests -t plugins/purchases-validate-py
    node --test plugins/sdk-js/test/
    just template-check
    {{venv}}/bin/python host/tests/interop/purchases_consumer.py {{target}}/debug/weir
    {{venv}}/bin/python host/tests/interop/registry_client.py {{target}}/debug/weir
    {{venv}}/bin/python host/tests/interop/customer_events_avro.py {{target}}/debug/weir
    {{venv}}/bin/python host/tests/interop/avro_producer_tail.py {{target}}/debug/weir
    {{venv}}/bin/python plugins/gtfs-rt/tests/interop/check_proto.py
    {{venv}}/bin/python plugins/gtfs-rt/tests/interop/compare_json.py
    {{venv}}/bin/python host/tests/interop/campaign_parquet.py {{target}}/debug/weir
    {{venv}}/bin/python host/tests/interop/campaign_parquet.py {{target}}/debug/weir --s3
    {{venv}}/bin/python host/tests/interop/parquet_types.py {{target}}/debug/weir
    just audit
    just bench --quick

# Supply chain (cargo-deny): advisories from the RustSec snapshot in
# supply-chain/ (offline: this machine cannot reach GitHub), crate sources,
# bans and licenses, as supply-chain/deny.toml says.
audit:
    #!/usr/bin/env bash
    set -euo pipefail
    command -v cargo-deny > /dev/null || cargo install cargo-deny --locked
    dbs=$(mktemp -d)
    trap 'rm -rf "$dbs"' EXIT
    # cargo-deny opens the database as a git repository in a folder named for
    # its URL; the commit carries the snapshot's date, so the staleness check
    # measures the snapshot's real age.
    db="$dbs/advisory-db-3157b0e258782691"
    mkdir "$db"
    tar -xzf supply-chain/advisory-db.tar.gz -C "$db"
    date=$(sed -n 's/^date: //p' supply-chain/advisory-db.txt)
    git -C "$db" init -q
    git -C "$db" add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -C "$db" -c user.name=weir -c user.email=weir@localhost commit -qm "RustSec advisory-db snapshot"
    # Offline, cargo metadata needs every crate of every target downloaded.
    cargo fetch --quiet
    WEIR_ADVISORY_DBS="$dbs" cargo deny --offline --config supply-chain/deny.toml check advisories sources bans licenses

# Replaces the RustSec snapshot with a checkout of
# https://github.com/RustSec/advisory-db (a machine that reaches GitHub).
audit-refresh ADVISORY_DB:
    git -C "{{ADVISORY_DB}}" archive --format=tar.gz HEAD crates rust LICENSE.txt README.md -o "{{justfile_directory()}}/supply-chain/advisory-db.tar.gz"
    git -C "{{ADVISORY_DB}}" log -1 --format='commit: %H%ndate: %cI' > "{{justfile_directory()}}/supply-chain/advisory-db.txt"

# Format the code.
fmt:
    cargo fmt --all

# Benchmarks: weir and a peer (native build, Python confluent-kafka, Faker,
# pyarrow, gtfs-realtime-bindings, kcat) doing the same work in one run; prints
# a table and writes bench/results/latest.{md,json}. `--quick`: small inputs on
# debug builds, to check that every workload runs (CI).
bench *ARGS: setup plugin
    #!/usr/bin/env bash
    set -euo pipefail
    profile=release; flag=--release
    if [[ " {{ARGS}} " == *" --quick "* ]]; then profile=debug; flag=; fi
    cargo build $flag -p weir -p weir-bench
    command -v kcat > /dev/null || apt-get install -y --no-install-recommends kcat > /dev/null 2>&1 \
        || echo "kcat could not be installed; its rows are skipped"
    {{venv}}/bin/python bench/run.py "{{target}}/$profile/weir" "{{target}}/$profile/weir-bench" {{ARGS}}

# Formatting check and clippy (host and plugins) with warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --exclude test-future-version --exclude test-bad-import --all-targets -- -D warnings
    cargo clippy --target wasm32-wasip2 -p purchases-gen -p purchases-validate -p purchases-daily -p cdc-gen -p cdc-shape -p cdc-table -p gtfs-rt -p customer-events -p campaign-views -p campaign-minute -p test-misbehave -p bench-echo -- -D warnings
