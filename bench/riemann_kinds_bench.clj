; riemann.config's consumer path with Riemann's stream code mirrored
; (tests/stack/riemann_stubs.clj): events per CPU-second of decoding, reading and streaming each
; Kafka message value (the ES batch, the spike rule, and, with KINDS_ENABLED true, each error
; record's kind and the book). Driven by bench/riemann_kinds_bench.py, which runs it with kinds
; on and off, interleaved. Prints one line: BENCH <json>.
(ns riemann.config
  (:require [cheshire.core :as json]
            [clojure.string :as str]))

(load-file (str (.getParent (.getParentFile (java.io.File. ^String *file*)))
                "/tests/stack/riemann_stubs.clj"))

(declare rule-state kind-state kind-book kinds-config)
(load-file (System/getenv "RIEMANN_CONFIG"))
(reset! consumer-deserializer (value-deserializer @consumer-opts))
(def initial-rule-state @rule-state)

(def cpu (java.lang.management.ManagementFactory/getThreadMXBean))

(defn pass
  "One pass over the values from a fresh state, Riemann's clock at `at`: events per CPU-second."
  [values at]
  (reset! clock at)
  (reset! rule-state initial-rule-state)
  (reset! kind-state (kind-book kinds-config))
  (reset! queued {})
  (let [start (.getCurrentThreadCpuTime cpu)]
    (consume! values)
    (tick!)
    (let [spent (/ (- (.getCurrentThreadCpuTime cpu) start) 1e9)]
      {:per_cpu_s (/ (count values) spent)
       :kinds (count (:kinds @kind-state))
       :told (count (filter :told (get @queued :alerts [])))})))

(let [{:keys [inputs repeats]} (json/parse-string (slurp (System/getenv "BENCH_VALUES")) true)]
  (println "BENCH"
           (json/generate-string
             (into {}
                   (for [{:keys [name values clock]} inputs]
                     (let [at (double (or clock (/ (System/currentTimeMillis) 1000.0)))]
                       (pass values at)   ; warm-up: the JIT compiles the path
                       [name (apply max-key :per_cpu_s
                                    (repeatedly repeats #(pass values at)))]))))))
; The config's stop hook would wait its bound at exit for the batches the stubbed queues hold
; (they record what they are given, never write it): this run's exit needs none of it.
(.removeShutdownHook (Runtime/getRuntime) kinds-stop-hook)
(shutdown-agents)
