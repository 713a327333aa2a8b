using System.Diagnostics;
using System.Globalization;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// The explicit-state model checker of the protocol models (<see cref="ParkingProtocolModel"/>,
/// <see cref="TurnProtocolModel"/>): explores every interleaving of a model's threads, checks the model's properties
/// in every reachable state and in every state where no thread can take a step, and turns the first violation into a
/// counterexample trace. The model supplies the states and the steps (<see cref="IModel"/>); the explorer knows
/// nothing of what a state means.
/// </summary>
/// <remarks>
/// <para>
/// <b>States.</b> A state is a byte array laid out by the model: its shared values, then one block of bytes per thread
/// (the thread's program counter and locals). Models read and write counters with <see cref="Get"/> and
/// <see cref="Set"/>, which treat a byte as an <see cref="sbyte"/>, so that a decrement below zero shows up as a
/// negative value (a violation the model checks) instead of wrapping, and make a successor with <see cref="Copy"/>.
/// </para>
/// <para>
/// <b>Symmetry.</b> Threads of a kind are interchangeable: the model names the runs of blocks that belong to
/// interchangeable threads (<see cref="IModel.Symmetries"/>), and states are identified up to a permutation of the
/// blocks within each run. The canonical key of a state is the state with the blocks of each run sorted
/// (bytewise); since a key is itself a state (one of the permutations), it is what is stored and explored.
/// </para>
/// <para>
/// <b>Search.</b> Breadth first, so a counterexample is a shortest one. Each key is stored once, with the index of
/// the key it was first reached from; the exploration stops at the first violation, or gives up at a state limit.
/// A state from which no thread can take a step is terminal: it is checked with <see cref="IModel.CheckTerminal"/>
/// and counted (and, if the model names a kind of terminal state to count apart, counted as such too).
/// </para>
/// <para>
/// <b>Traces.</b> A counterexample is replayed from the concrete initial state along its path of keys, taking at
/// each step the successor whose canonical key is the next one on the path, so that the trace names each thread
/// consistently from start to end (a key alone may have permuted the threads).
/// </para>
/// </remarks>
internal sealed class StateSpaceExplorer
{
    /// <summary>How many distinct states an exploration explores by default before it gives up.</summary>
    public const int DefaultStateLimit = 5_000_000;

    private readonly IModel _model;
    private readonly int _threads;
    private readonly Symmetry[] _symmetries;

    /// <summary>Creates an explorer of <paramref name="model"/>.</summary>
    /// <param name="model">The model: its states, steps and properties.</param>
    public StateSpaceExplorer(IModel model)
    {
        _model = model;
        _threads = model.Threads;
        _symmetries = [.. model.Symmetries.Where(static s => s.Count > 1)];
    }

    /// <summary>What the explorer needs of a model: the initial state, the steps of each thread, the checks, and how to print a state.</summary>
    internal interface IModel
    {
        /// <summary>Gets a short description of the configuration, the first words of <see cref="Exploration.Summary"/>.</summary>
        string Configuration { get; }

        /// <summary>Gets the number of threads, numbered from 0; it does not change.</summary>
        int Threads { get; }

        /// <summary>Gets the runs of blocks of interchangeable threads (see the remarks of <see cref="StateSpaceExplorer"/>).</summary>
        IReadOnlyList<Symmetry> Symmetries { get; }

        /// <summary>Gets the name of a kind of terminal state counted apart (the summary then says "4 terminal (1 finished)"), or <see langword="null"/>.</summary>
        string? CountedTerminalKind => null;

        /// <summary>Creates the initial state, concrete (not canonical): each thread at its first step.</summary>
        byte[] InitialState();

        /// <summary>
        /// Adds to <paramref name="output"/> the steps thread <paramref name="thread"/> can take in <paramref name="state"/>
        /// (none if it is blocked or done); each with a fresh state, which the explorer may change.
        /// </summary>
        void Successors(byte[] state, int thread, List<Transition> output);

        /// <summary>Checks the properties every reachable state must have: a description of the first one broken, or <see langword="null"/>.</summary>
        string? CheckState(byte[] state);

        /// <summary>Checks a state where no thread can take a step: a description of the property broken, or <see langword="null"/>.</summary>
        string? CheckTerminal(byte[] state);

        /// <summary>Gets whether a terminal state is of the kind <see cref="CountedTerminalKind"/> names.</summary>
        bool IsCountedTerminal(byte[] state) => false;

        /// <summary>Gets the name of a thread in a trace, at most three characters (e.g. "W0").</summary>
        string ThreadName(int thread);

        /// <summary>Gets a one-line summary of a state for a trace.</summary>
        string Describe(byte[] state);
    }

    /// <summary>Reads the byte at <paramref name="at"/> as a signed value.</summary>
    public static int Get(byte[] state, int at) => (sbyte)state[at];

    /// <summary>Writes <paramref name="value"/> as a signed byte at <paramref name="at"/>.</summary>
    public static void Set(byte[] state, int at, int value) => state[at] = unchecked((byte)(sbyte)value);

    /// <summary>A copy of <paramref name="state"/>, to become a successor.</summary>
    public static byte[] Copy(byte[] state) => (byte[])state.Clone();

    /// <summary>
    /// Explores every reachable state, breadth first, and stops at the first violation of a checked property.
    /// </summary>
    /// <param name="stateLimit">Gives up after this many distinct states (the result then says <see cref="Exploration.StateLimitReached"/>).</param>
    public Exploration Explore(int stateLimit = DefaultStateLimit)
    {
        var stopwatch = Stopwatch.StartNew();

        // Visited states are stored by canonical key only; a key is itself a state (one of its permutations),
        // so it is explored directly. parents[i] is the state from which state i was first reached.
        var keys = new List<byte[]>();
        var parents = new List<int>();
        var visited = new HashSet<byte[]>(StateComparer.Instance);
        var successors = new List<Transition>();
        long transitions = 0;
        var terminals = 0;
        var countedTerminals = 0;

        var initial = _model.InitialState();
        Canonicalize(initial);
        keys.Add(initial);
        parents.Add(-1);
        visited.Add(initial);
        if (_model.CheckState(initial) is { } initialViolation)
        {
            return Finish(initialViolation, 0);
        }

        for (var current = 0; current < keys.Count; current++)
        {
            var state = keys[current];
            successors.Clear();
            for (var thread = 0; thread < _threads; thread++)
            {
                _model.Successors(state, thread, successors);
            }

            transitions += successors.Count;
            if (successors.Count == 0)
            {
                terminals++;
                countedTerminals += _model.CountedTerminalKind is not null && _model.IsCountedTerminal(state) ? 1 : 0;
                if (_model.CheckTerminal(state) is { } stuck)
                {
                    return Finish(stuck, current);
                }

                continue;
            }

            foreach (var transition in successors)
            {
                // The successor is a fresh copy: it becomes its own canonical key.
                var key = transition.Next;
                Canonicalize(key);
                if (!visited.Add(key))
                {
                    continue;
                }

                keys.Add(key);
                parents.Add(current);
                if (_model.CheckState(key) is { } violation)
                {
                    return Finish(violation, keys.Count - 1);
                }

                if (keys.Count >= stateLimit)
                {
                    return Finish(violation: null, last: -1, stateLimitReached: true);
                }
            }
        }

        return Finish(violation: null, last: -1);

        Exploration Finish(string? violation, int last, bool stateLimitReached = false)
        {
            stopwatch.Stop();
            var trace = violation is null ? [] : Trace(keys, parents, last);
            return new Exploration(
                _model.Configuration,
                keys.Count,
                transitions,
                terminals,
                _model.CountedTerminalKind,
                countedTerminals,
                stopwatch.Elapsed,
                stateLimitReached,
                violation,
                trace);
        }
    }

    /// <summary>Turns a state into its canonical key in place: sorts the blocks of each run of interchangeable threads.</summary>
    private void Canonicalize(byte[] state)
    {
        foreach (var symmetry in _symmetries)
        {
            SortBlocks(state, symmetry.Start, symmetry.Count, symmetry.BlockSize);
        }
    }

    private static void SortBlocks(byte[] key, int start, int count, int size)
    {
        // Insertion sort of a handful of small blocks.
        Span<byte> held = stackalloc byte[size];
        for (var i = 1; i < count; i++)
        {
            key.AsSpan(start + (i * size), size).CopyTo(held);
            var j = i - 1;
            while (j >= 0 && key.AsSpan(start + (j * size), size).SequenceCompareTo(held) > 0)
            {
                key.AsSpan(start + (j * size), size).CopyTo(key.AsSpan(start + ((j + 1) * size), size));
                j--;
            }

            held.CopyTo(key.AsSpan(start + ((j + 1) * size), size));
        }
    }

    /// <summary>
    /// Replays the path of canonical states that ends at <paramref name="last"/> from the concrete initial state,
    /// picking at each step the successor with the next canonical key, so that threads keep their names.
    /// </summary>
    private List<string> Trace(List<byte[]> keys, List<int> parents, int last)
    {
        var path = new List<byte[]>();
        for (var index = last; index >= 0; index = parents[index])
        {
            path.Add(keys[index]);
        }

        path.Reverse();
        var state = _model.InitialState();
        var trace = new List<string> { string.Create(CultureInfo.InvariantCulture, $"{0,3}. --  initial state  ⇒  {_model.Describe(state)}") };
        var successors = new List<Transition>();
        for (var step = 1; step < path.Count; step++)
        {
            successors.Clear();
            for (var thread = 0; thread < _threads; thread++)
            {
                _model.Successors(state, thread, successors);
            }

            var taken = successors.First(t => StateComparer.Instance.Equals(Canonical(t.Next), path[step]));
            state = taken.Next;
            trace.Add(string.Create(CultureInfo.InvariantCulture, $"{step,3}. {_model.ThreadName(taken.Thread),-3} {taken.What}  ⇒  {_model.Describe(state)}"));
        }

        return trace;
    }

    /// <summary>The canonical key of a state, leaving the state as it is.</summary>
    private byte[] Canonical(byte[] state)
    {
        var key = Copy(state);
        Canonicalize(key);
        return key;
    }

    /// <summary>A run of blocks of interchangeable threads in a state.</summary>
    /// <param name="Start">Where the first block starts.</param>
    /// <param name="Count">How many blocks (threads) the run has.</param>
    /// <param name="BlockSize">The bytes of one block.</param>
    public readonly record struct Symmetry(int Start, int Count, int BlockSize);

    /// <summary>One step: the state after it, the thread that took it, and what it did (a line of a trace).</summary>
    public readonly record struct Transition(byte[] Next, int Thread, string What);

    /// <summary>The outcome of <see cref="Explore"/>.</summary>
    /// <param name="Configuration">The model explored.</param>
    /// <param name="States">Distinct states reached (up to a permutation of interchangeable threads).</param>
    /// <param name="Transitions">Steps taken from explored states, including those that led to known states.</param>
    /// <param name="TerminalStates">States where no thread could take a step.</param>
    /// <param name="CountedTerminalKind">The kind of terminal state counted apart, or <see langword="null"/>.</param>
    /// <param name="CountedTerminalStates">Terminal states of that kind.</param>
    /// <param name="Elapsed">The time the exploration took.</param>
    /// <param name="StateLimitReached">Whether the exploration stopped at the state limit, before it explored every reachable state or found a violation.</param>
    /// <param name="Violation">The first property found broken, or <see langword="null"/>.</param>
    /// <param name="Trace">The steps from the initial state to the violating state (empty if none).</param>
    public sealed record Exploration(
        string Configuration,
        int States,
        long Transitions,
        int TerminalStates,
        string? CountedTerminalKind,
        int CountedTerminalStates,
        TimeSpan Elapsed,
        bool StateLimitReached,
        string? Violation,
        IReadOnlyList<string> Trace)
    {
        /// <summary>Gets the summary line: configuration, states, transitions, time and outcome.</summary>
        public string Summary =>
            string.Create(
                CultureInfo.InvariantCulture,
                $"{Configuration}: {States:N0} states, {Transitions:N0} transitions, {TerminalStates:N0} terminal{(CountedTerminalKind is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" ({CountedTerminalStates:N0} {CountedTerminalKind})"))}, {Elapsed.TotalMilliseconds:N0} ms — {Violation ?? (StateLimitReached ? "INCOMPLETE: the state limit was reached" : "no violation")}");

        /// <summary>Gets the summary followed by the counterexample trace, one step per line.</summary>
        public string Report => Trace.Count == 0 ? Summary : Summary + Environment.NewLine + string.Join(Environment.NewLine, Trace);
    }

    /// <summary>Compares states (or canonical keys) by content.</summary>
    private sealed class StateComparer : IEqualityComparer<byte[]>
    {
        public static readonly StateComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var hash = default(HashCode);
            hash.AddBytes(obj);
            return hash.ToHashCode();
        }
    }
}
