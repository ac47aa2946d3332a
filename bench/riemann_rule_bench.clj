; The full profile's cost per record, in riemann.config's own code (run by bench/profiles_bench.py,
; which loads it after tests/stack/riemann_harness.clj's Riemann 0.3.12 stand-ins and the config,
; in the config's namespace). Prints one line: BENCH <json>.
;
; decode: `record-of`, the config's value deserializer: the bytes as JSON (cheshire), every field
;         of the record read through tests/shapes/README.md's rules (level, message, template,
;         call site, group, time, error), as Riemann's Kafka consumer calls it for each message.
; rule:   the consumer path: `record-of`, riemann.common/event, then the config's streams (the
;         error-spike rule, and the index batch; the harness's stand-ins for Riemann's batch and
;         async queues record what they are given, reset every round).
;
; VALUES: a file of message values, one per line; ROUNDS: timed rounds after WARMUP untimed ones
; (the JIT compiles the hot code in those); CLOCK: Riemann's clock, just after the values' times.

(require '[clojure.string :as str])

(def bench-values
  (let [lines (remove str/blank? (str/split-lines (slurp (System/getenv "VALUES") :encoding "UTF-8")))]
    (mapv #(.getBytes ^String % "UTF-8") lines)))
(def bench-rounds (Long/parseLong (System/getenv "ROUNDS")))
(def bench-warmup (Long/parseLong (System/getenv "WARMUP")))
(def bench-clock (Double/parseDouble (System/getenv "CLOCK")))
(def thread-mx (java.lang.management.ManagementFactory/getThreadMXBean))

(defn timed
  "[wall seconds, this thread's CPU seconds] of (f)."
  [f]
  (let [cpu (.getCurrentThreadCpuTime thread-mx)
        wall (System/nanoTime)]
    (f)
    [(/ (- (System/nanoTime) wall) 1e9) (/ (- (.getCurrentThreadCpuTime thread-mx) cpu) 1e9)]))

(defn decode-all []
  (let [n (count bench-values)]
    (loop [i 0 kept 0]
      (if (< i n)
        (recur (inc i) (if (record-of (nth bench-values i)) (inc kept) kept))
        kept))))

(def consumer (value-deserializer @consumer-opts))
(def initial-rule-state @rule-state)

(defn rule-all []
  (reset! clock bench-clock)
  (reset! rule-state initial-rule-state)
  (reset! queued {})
  (doseq [^bytes v bench-values]
    (stream! (event (.deserialize ^Deserializer consumer "program-logs" v))))
  (tick!)
  (count (get @queued :alerts [])))

(defn best [f]
  (dotimes [_ bench-warmup] (f))
  (let [runs (vec (repeatedly bench-rounds #(timed f)))
        n (count bench-values)]
    {:per_s (apply max (map #(/ n (first %)) runs))
     :per_cpu_s (apply max (map #(/ n (max 1e-9 (second %))) runs))}))

(println "BENCH"
         (json/generate-string
           {:records (count bench-values)
            :decoded (decode-all)
            :alerts (rule-all)
            :decode (best decode-all)
            :rule (best rule-all)
            :java (System/getProperty "java.version")
            :clojure (clojure-version)}))

; The config's stop hook would wait its bound at exit for the batches the stubbed queues hold
; (they record what they are given, never write it): this run's exit needs none of it.
(.removeShutdownHook (Runtime/getRuntime) kinds-stop-hook)
