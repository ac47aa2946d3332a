; The Riemann 0.3.12 functions stack/riemann/riemann.config uses, mirrored from Riemann's own
; source (semantics kept, services stubbed), in Riemann's config namespace: loaded by the
; harness (riemann_harness.clj) and the bench (bench/riemann_kinds_bench.clj) before the config.
; Outputs reach real servers only for the queues in `delivered`; elsewhere the queues record
; what they are given.
(ns riemann.config
  (:require [cheshire.core :as json]
            [clojure.string :as str]
            [clojure.tools.logging :as log]))

; ---------------------------------------------------------- Riemann 0.3.12, mirrored (the edge)

; What the config logs, recorded (the classpath's SLF4J binding here is the no-op one).
(def logged (atom []))
(alter-var-root #'log/*logger-factory*
                (constantly
                  (reify clojure.tools.logging.impl/LoggerFactory
                    (name [_] "harness")
                    (get-logger [_ _]
                      (reify clojure.tools.logging.impl/Logger
                        (enabled? [_ _] true)
                        (write! [_ level _ message]
                          (swap! logged conj [(name level) (str message)])))))))
(defn logged-about [text] (vec (filter #(str/includes? (second %) text) @logged)))

; riemann.time/unix-time: Riemann's clock, controlled here (riemann.time.controlled does the same).
(def clock (atom 1764000000.0))                  ; 2025-11-24T16:00:00Z
(defn unix-time [] @clock)

; riemann.streams/call-rescue: each child in turn; an exception is logged, never passed on.
; Here also counted in `rescued`: the config's own code should never need it.
(def rescued (atom []))
(defmacro call-rescue [event children]
  `(do
     (doseq [child# ~children]
       (try
         (child# ~event)
         (catch Exception e#
           (swap! rescued conj (str e#))
           (log/warn e# (str child# " threw")))
         (catch AssertionError e#
           (swap! rescued conj (str e#))
           (log/warn e# (str child# " threw")))))
     true))

; riemann.streams/where-partition-clauses and where*.
(defn where-partition-clauses [exprs]
  (map vec
       ((juxt remove (comp (partial mapcat rest) filter))
        (fn [expr] (when (list? expr) (= 'else (first expr))))
        exprs)))

(defmacro where* [f & children]
  (let [[true-kids else-kids] (where-partition-clauses children)]
    `(let [true-kids# ~true-kids
           else-kids# ~else-kids
           predicate# ~f]
       (fn stream# [event#]
         (let [value# (predicate# event#)]
           (if value#
             (call-rescue event# true-kids#)
             (call-rescue event# else-kids#))
           value#)))))

; riemann.streams/batch: full batches flush at once; the rest at each dt tick of Riemann's
; scheduler, which `tick!` stands for here.
(def batches (atom []))
(defn batch [n _dt & children]
  (let [state (atom [])
        flush (fn [] (let [[b] (reset-vals! state [])] (when (seq b) (call-rescue b children))))]
    (swap! batches conj flush)
    (fn stream [event]
      (let [[old _] (swap-vals! state (fn [b] (let [b (conj b event)] (if (<= n (count b)) [] b))))]
        (when (<= n (inc (count old)))
          (call-rescue (conj old event) children))))))
(defn tick! [] (doseq [f @batches] (f)))

; riemann.config/async-queue! over riemann.service/threadpool-service: a ThreadPoolExecutor
; (core and max pool sizes, a LinkedBlockingQueue of :queue-size, the default policy: a full
; queue throws RejectedExecutionException to the caller). Every event is recorded in `queued`;
; the children run only for the queues in `delivered`: on the caller's thread (deterministic),
; or, with `threaded?` on, on the queue's own executor as in Riemann.
(def delivered (atom #{}))
(def threaded? (atom false))
(def queued (atom {}))
(def executors (atom {}))
(defn daemon-threads []
  (reify java.util.concurrent.ThreadFactory
    (newThread [_ r] (doto (Thread. ^Runnable r) (.setDaemon true)))))
(defn async-queue! [qname opts & children]
  (let [executor (java.util.concurrent.ThreadPoolExecutor.
                   (int (get opts :core-pool-size 0)) (int (get opts :max-pool-size 4))
                   5 java.util.concurrent.TimeUnit/SECONDS
                   (java.util.concurrent.LinkedBlockingQueue. (int (get opts :queue-size 1000)))
                   (daemon-threads))]
    (swap! executors assoc qname executor)
    (fn stream [event]
      (swap! queued update qname (fnil conj []) event)
      (when (contains? @delivered qname)
        (if @threaded?
          (.execute executor (fn [] (call-rescue event children)))
          (call-rescue event children))))))
(defn completed [qname] (.getCompletedTaskCount ^java.util.concurrent.ThreadPoolExecutor
                                                 (get @executors qname)))

; kinsky.client 0.1.26 (Riemann's Kafka client), STUBBED: the Kafka client jar is not here.
; The producer keeps its config (kinsky passes it to KafkaProducer as strings); send! writes the
; value as JSON (kinsky's json-serializer: jsonista there, cheshire here) to `broker`. While the
; broker is down, send! waits like KafkaProducer.send for the broker's metadata: until the broker
; is back or max.block.ms has passed, then throws (a TimeoutException there).
;; With acks held (`hold-acks!`), a send's future completes only at `ack-all!` (a broker
;; slow to answer, or never): the record counts as sent then.
(def broker (atom {:up true :sent [] :in-flight 0 :configs [] :hold-acks false :unacked []}))
(def broker-back (atom (java.util.concurrent.CountDownLatch. 0)))
(defn broker-down! []
  (reset! broker-back (java.util.concurrent.CountDownLatch. 1))
  (swap! broker assoc :up false))
(defn broker-up! []
  (swap! broker assoc :up true)
  (.countDown ^java.util.concurrent.CountDownLatch @broker-back))
(defn hold-acks! [] (swap! broker assoc :hold-acks true))
(defn ack-all! []
  (let [[old _] (swap-vals! broker assoc :hold-acks false :unacked [])]
    (doseq [[^java.util.concurrent.CompletableFuture f record] (:unacked old)]
      (swap! broker update :sent conj record)
      (.complete f {:topic (:topic record)}))))
(defn json-serializer [] ::json)
(defn kinsky-producer [config serializer]
  (swap! broker update :configs conj (into {} (for [[k v] config] [(name k) (str v)])))
  {:config config :serializer (if (fn? serializer) (serializer) serializer)})
(defn kinsky-send! [producer topic k v]
  (let [value (json/generate-string v)
        block-ms (Long/parseLong (str (get-in producer [:config :max.block.ms] 60000)))]
    (when-not (:up @broker)
      (swap! broker update :in-flight inc)
      (try
        (when-not (.await ^java.util.concurrent.CountDownLatch @broker-back block-ms
                          java.util.concurrent.TimeUnit/MILLISECONDS)
          (throw (ex-info (str "Topic " topic " not present in metadata after " block-ms " ms.")
                          {})))
        (finally (swap! broker update :in-flight dec))))
    (let [record {:topic topic :key k :value value}]
      (if (:hold-acks @broker)
        (let [f (java.util.concurrent.CompletableFuture.)]
          (swap! broker update :unacked conj [f record])
          f)
        (do (swap! broker update :sent conj record)
            (java.util.concurrent.CompletableFuture/completedFuture {:topic topic}))))))

; riemann.kafka/kafka (0.3.12), mirrored over the stub: options merged over its defaults, one
; producer, a function of topic (and key) returning the stream that sends each event.
(defn kafka
  ([] (kafka {}))
  ([opts]
   (let [opts (merge {:bootstrap.servers "localhost:9092" :value.serializer json-serializer} opts)
         producer (kinsky-producer (dissoc opts :value.serializer) (:value.serializer opts))]
     (fn make-stream [& args]
       (fn stream [event]
         (let [[topic message-key] args]
           (kinsky-send! producer topic message-key event)))))))

; riemann.config/streams adds top-level streams; riemann.core/stream! calls them, unguarded.
(def top-streams (atom []))
(defn streams [& things] (swap! top-streams into things))
(defn stream! [event] (doseq [s @top-streams] (s event)))

(def consumer-opts (atom nil))
(defn kafka-consumer [opts] (reset! consumer-opts opts))
(defn tcp-server [& _] nil)
(defn periodically-expire [& _] nil)
; riemann.time/every!: the tasks the config schedules, run here by the scenarios themselves.
(def scheduled (atom []))
(defn every! [interval & more] (swap! scheduled conj [interval (last more)]))

; riemann.codec/Event and riemann.common/event, with clojure.math.numeric-tower's round.
(defrecord Event [host service state description metric tags time ttl])
(defn round [x]
  (cond (integer? x) x
        (float? x) (Math/round (double x))
        (ratio? x) (long (Math/floor (+ x 1/2)))
        :else (throw (IllegalArgumentException.
                       (str "No implementation of method: :round for " (class x))))))
(defn event [opts]
  (let [t (long (round (or (:time opts) (unix-time))))]
    (map->Event (merge opts {:time t}))))

; kinsky.client 0.1.26: `deserializer` reifies Kafka's Deserializer over (fn [topic payload]);
; the consumer takes a deserializer alias (keyword), a function called for the Deserializer, or
; the Deserializer itself (->deserializer). Kafka's interface is not on this classpath: one of the
; same shape stands for it. The config requires kinsky.client: marked loaded, as in Riemann.
(definterface Deserializer (deserialize [topic payload]))
(create-ns 'kinsky.client)
(intern 'kinsky.client 'deserializer
        (fn [f] (reify Deserializer (deserialize [_ topic payload] (f topic payload)))))
(dosync (commute @#'clojure.core/*loaded-libs* conj 'kinsky.client))
;; kinsky.client for the kinds topic, STUBBED over one in-memory partition (`kinds-log`): a
;; string producer whose send! appends (a nil value is a tombstone); a string consumer whose
;; deref is the KafkaConsumer the config assigns and seeks on (the same method names), and whose
;; poll! gives at most 3 records from its position, as kinsky's consumer-records->data. While
;; `kinds-broker-up` is false, making a consumer throws (the broker cannot be reached).
(def kinds-log (atom []))
(def kinds-broker-up (atom false))
(definterface PartInfo (partition []))
(definterface RawConsumer
  (partitionsFor [topic]) (assign [parts]) (seekToBeginning [parts]) (endOffsets [parts])
  (position [tp]))
(deftype StubConsumer [raw position]
  clojure.lang.IDeref
  (deref [_] raw))
(intern 'kinsky.client 'string-serializer (fn [] ::string))
(intern 'kinsky.client 'string-deserializer (fn [] ::string))
(intern 'kinsky.client '->topic-partition (fn [{:keys [topic partition]}] [topic partition]))
;; Making a producer is counted in `producers-made`.
(def producers-made (atom 0))
(intern 'kinsky.client 'producer (fn [config _ _] (swap! producers-made inc) {:config config}))
;; While `kinds-blocked` holds a latch, send! waits on it like KafkaProducer.send on a broker
;; that is down (for its metadata, at most max.block.ms, then throws); while `kinds-refused` is
;; true, send! throws at once (a record the broker refused, or a producer closed); closing a
;; producer is counted in `producers-closed`.
(def kinds-blocked (atom nil))
(def kinds-refused (atom false))
(def producers-closed (atom 0))
(intern 'kinsky.client 'send!
        (fn [producer topic k v]
          (when @kinds-refused
            (throw (ex-info "Cannot perform operation after producer has been closed" {})))
          (when-let [^java.util.concurrent.CountDownLatch latch @kinds-blocked]
            (let [ms (Long/parseLong (str (get-in producer [:config :max.block.ms] 60000)))]
              (when-not (.await latch ms java.util.concurrent.TimeUnit/MILLISECONDS)
                (throw (ex-info (str "Topic " topic " not present in metadata after " ms " ms.")
                                {})))))
          (swap! kinds-log conj {:topic topic :key k :value v})
          (java.util.concurrent.CompletableFuture/completedFuture {:topic topic})))
(intern 'kinsky.client 'consumer
        (fn [config _ _]
          (when-not @kinds-broker-up
            (throw (ex-info "Failed to construct kafka consumer (no broker here)" {})))
          (let [position (atom 0)
                raw (reify RawConsumer
                      (partitionsFor [_ topic] [(reify PartInfo (partition [_] 0))])
                      (assign [_ _] nil)
                      (seekToBeginning [_ _] (reset! position 0))
                      (endOffsets [_ parts] (into {} (for [p parts] [p (count @kinds-log)])))
                      (position [_ _] @position))]
            (->StubConsumer raw position))))
(intern 'kinsky.client 'poll!
        (fn [^StubConsumer consumer _]
          (let [position (.-position consumer)
                records (take 3 (drop @position @kinds-log))]
            (when (empty? records) (Thread/sleep 10))   ; as poll's timeout, shortened
            (swap! position + (count records))
            {:by-topic (group-by :topic records)})))
(intern 'kinsky.client 'close!
        (fn [driver & _] (when (:config driver) (swap! producers-closed inc)) nil))

(defn ->deserializer [x]
  (cond (keyword? x) (throw (ex-info "unknown deserializer alias (not stubbed here)" {:x x}))
        (fn? x) (x)
        :else x))

; riemann.kafka/json-deserializer: Riemann's own decoding, the default.
(defn json-deserializer []
  (kinsky.client/deserializer
    (fn [_ ^bytes payload]
      (when payload
        (try (json/parse-string (String. payload "UTF-8") true)
             (catch Exception e (log/error e "Could not decode message")))))))

; riemann.kafka/start-kafka-thread: the options merged over its defaults (a shallow merge), the
; value deserializer made once. Kafka's fetcher gives nil for a null value without calling it; a
; deserializer that throws makes poll throw (a SerializationException), which ends consumption.
(defn value-deserializer [opts]
  (->deserializer (:value.deserializer (merge {:value.deserializer json-deserializer} opts))))
(def consumer-deserializer (atom nil))

; The consume loop: only NullPointerException is caught per record; anything else ends
; consumption. Returns :consumed or :interrupted.
(defn consume-with! [^Deserializer deserializer values]
  (try
    (doseq [^String v values]
      (let [value (when v (.deserialize deserializer "program-logs" (.getBytes v "UTF-8")))]
        (try (stream! (event value))
             (catch NullPointerException _ nil))))
    :consumed
    (catch Exception e
      (log/error e "Interrupted consumption")
      :interrupted)
    ; An Error (StackOverflowError) passes the loop's catch: the consuming thread ends, unlogged.
    (catch Throwable _ :died)))
(defn consume! [values] (consume-with! @consumer-deserializer values))

