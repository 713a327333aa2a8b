using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using HandOffRule = ThreadLineage.Tests.Robustness.ParkingProtocolModel.HandOffRule;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// Exhaustive interleavings of <see cref="ParkingProtocolModel"/>, a step-by-step model of the worker parking
/// protocol (DedicatedRun.Parking.cs, PoolRun.cs): with the hand-off of commit 0892fa0, no interleaving leaves an item queued
/// next to a parked worker; with the rule before it, the checker finds the lost wake-up that commit fixed.
/// </summary>
public sealed class ParkingProtocolModelTests(ITestOutputHelper output)
{
    /// <summary>
    /// Items that run forever once taken (they wait for each other at a barrier: every item needs a worker of its own;
    /// with fewer workers than items, (3, 2, 2), the last item may wait for a free worker, but never next to a parked
    /// one), and items that return at once (workers go back to the queue without idling, then search and park).
    /// </summary>
    [Theory]
    [InlineData(2, 1, 2, true)]
    [InlineData(2, 2, 1, true)]
    [InlineData(3, 1, 3, true)]
    [InlineData(3, 2, 2, true)]
    [InlineData(2, 1, 2, false)]
    [InlineData(2, 2, 2, false)]
    [InlineData(3, 1, 3, false)]
    [InlineData(3, 2, 2, false)]
    public void Explore_FixedHandOff_NoItemWaitsNextToAParkedWorker(int workers, int producers, int itemsPerProducer, bool itemsBlockForever)
    {
        var result = new ParkingProtocolModel(workers, producers, itemsPerProducer, HandOffRule.FixedRule, itemsBlockForever).Explore();
        ProtocolModelAssert.NoViolation(output, result);
    }

    [SkippableTheory]
    [InlineData(4, 1, 4, true)]
    [InlineData(4, 2, 2, true)]
    [InlineData(4, 4, 1, true)]
    [InlineData(3, 3, 1, false)]
    [InlineData(4, 1, 4, false)]
    public void Explore_FixedHandOff_LargerPools_WhenThreadLineageModelLargeIsSet(int workers, int producers, int itemsPerProducer, bool itemsBlockForever)
    {
        Skip.If(
            string.IsNullOrEmpty(Environment.GetEnvironmentVariable("THREADLINEAGE_MODEL_LARGE")),
            "The larger models are opt-in (up to about 30 s and 1 GB each): set THREADLINEAGE_MODEL_LARGE=1.");

        var result = new ParkingProtocolModel(workers, producers, itemsPerProducer, HandOffRule.FixedRule, itemsBlockForever).Explore(stateLimit: 50_000_000);
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(result.Violation is null, result.Report);
    }

    [Fact]
    public void Explore_OldHandOff_FindsTheLostWakeUp()
    {
        // Proves the checker can fail: the rule before 0892fa0 loses a wake-up with two workers and two items.
        var result = new ParkingProtocolModel(workers: 2, producers: 1, itemsPerProducer: 2, HandOffRule.OldRule).Explore();
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(
            result.Violation is not null && result.Violation.StartsWith("LOST WAKE-UP", StringComparison.Ordinal),
            $"the old hand-off rule should lose a wake-up, but the checker found none. {result.Report}");

        // The counterexample is the bug 0892fa0 describes: a producer saw the searcher and woke nobody, the
        // searcher's spin timed out, it announced itself in Park, re-checked, saw work, withdrew, and took the
        // first item without handing off.
        var trace = string.Join(Environment.NewLine, result.Trace);
        Assert.True(result.Trace.Any(static s => s.Contains("WakeOrSpawn saw a searcher", StringComparison.Ordinal)), trace);
        Assert.True(result.Trace.Any(static s => s.Contains("spin TIMED OUT", StringComparison.Ordinal)), trace);
        Assert.True(result.Trace.Any(static s => s.Contains("withdrew the announcement", StringComparison.Ordinal)), trace);
    }

    [Theory]
    [InlineData(3, 1, 3)]
    [InlineData(2, 2, 1)]
    public void Explore_OldHandOff_LosesAWakeUpInOtherConfigurationsToo(int workers, int producers, int itemsPerProducer)
    {
        var result = new ParkingProtocolModel(workers, producers, itemsPerProducer, HandOffRule.OldRule).Explore();
        output.WriteLine(result.Report);

        Assert.True(
            result.Violation is not null && result.Violation.StartsWith("LOST WAKE-UP", StringComparison.Ordinal),
            $"the old hand-off rule should lose a wake-up. {result.Report}");
    }

    [Fact]
    public void Citations_QuoteTheCurrentSource()
    {
        // Every citation of the code (file.cs, member: "quoted code") still names a member of that file that holds the
        // quoted code: when the code moves or changes, this fails and lists the citations to update.
        ProtocolModelAssert.CitationsQuoteTheCurrentSource(
            output,
            "tests/ThreadLineage.Tests/Robustness/ParkingProtocolModel.cs",
            "tests/ThreadLineage.Tests/Robustness/ParkingProtocolModelTests.cs");
    }
}

/// <summary>The assertions the tests of the protocol models share.</summary>
internal static class ProtocolModelAssert
{
    /// <summary>
    /// Writes the report of <paramref name="result"/> and asserts that the exploration was complete, found no
    /// violation, and reached a terminal state (a model that never settles checks nothing in a stuck state).
    /// </summary>
    public static void NoViolation(ITestOutputHelper output, StateSpaceExplorer.Exploration result)
    {
        output.WriteLine(result.Report);
        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(result.Violation is null, result.Report);
        Assert.True(result.TerminalStates > 0, $"no terminal state was reached: the model never settles. {result.Summary}");
    }

    /// <summary>
    /// Checks the citations of <paramref name="modelFiles"/> (<see cref="ProtocolModelCitations.Check"/>), writes the
    /// report, and asserts that none is stale and that some were found.
    /// </summary>
    public static void CitationsQuoteTheCurrentSource(ITestOutputHelper output, params string[] modelFiles)
    {
        var result = ProtocolModelCitations.Check(modelFiles);
        output.WriteLine(result.Report);

        Assert.True(result.Stale.Count == 0, result.Report);
        Assert.True(result.Current > 0, $"no citation found: has the format changed? {result.Report}");
    }
}

/// <summary>
/// Checks the citations of the code a protocol model models (<see cref="ParkingProtocolModel"/>,
/// <see cref="TurnProtocolModel"/> and their tests), so that they cannot rot silently as the code moves.
/// </summary>
/// <remarks>
/// <para>
/// A citation names a file, a member declared in it and, where the member has several steps, quotes of the code the
/// step models: <c>file.cs, member</c> or <c>file.cs, member: "code", "code"</c>, for example
/// DedicatedRun.Parking.cs, Park: "Interlocked.Increment(ref _parked);". The file is the name of a file under
/// <c>src/</c> (one only); the member covers all its overloads; the quotes must occur in that member in the order
/// given, compared with comments removed and each run of whitespace read as one space (so a quote may join lines of
/// the code). A citation and its quotes are on one line of the model's source (a quote list does not go on to the next
/// line); in XML documentation the quotes are written with <c>&amp;amp;</c>, <c>&amp;lt;</c> and <c>&amp;gt;</c>.
/// </para>
/// <para>
/// Code that no longer exists is cited at a commit, as in
/// 0892fa0^:WorkerGroup.Workers.cs, RunLoop: "if (Interlocked.Decrement(ref _searching) == 0".
/// Those are checked against that commit when git and the repository's history are at hand, and otherwise only listed.
/// A citation by line number (a file name followed by a colon and digits) is stale by definition.
/// </para>
/// </remarks>
internal static partial class ProtocolModelCitations
{
    private static readonly string[] s_xmlEntities = ["&lt;", "<", "&gt;", ">", "&amp;", "&"];

    /// <summary>Checks every citation in <paramref name="modelFiles"/> (paths relative to the repository root).</summary>
    public static Result Check(params string[] modelFiles)
    {
        var root = RepositoryRoot();
        var sources = new Dictionary<string, Source?>(StringComparer.Ordinal);
        var stale = new List<string>();
        var notChecked = new List<string>();
        var current = 0;
        var historical = 0;
        foreach (var modelFile in modelFiles)
        {
            var lines = File.ReadAllLines(Path.Combine(root, modelFile));
            for (var number = 1; number <= lines.Length; number++)
            {
                var line = lines[number - 1];
                var at = string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(modelFile)} line {number}");
                foreach (Match lineNumber in LineNumberCitation().Matches(line))
                {
                    stale.Add($"{at}: \"{lineNumber.Value}\" cites a line number; cite the file, the member and a quote of the code instead");
                }

                foreach (Match citation in Citation().Matches(line))
                {
                    var rest = line.AsSpan(citation.Index + citation.Length);
                    if (rest.StartsWith(": \"", StringComparison.Ordinal) || rest.StartsWith(", \"", StringComparison.Ordinal))
                    {
                        stale.Add($"{at}: {citation.Value}{rest}: a quote that does not close on its line");
                        continue;
                    }

                    var commit = citation.Groups["commit"].Success ? citation.Groups["commit"].Value : null;
                    var file = citation.Groups["file"].Value;
                    var member = citation.Groups["member"].Value;
                    var quotes = citation.Groups["quote"].Captures.Select(static q => Decode(q.Value)).ToList();
                    var key = commit + ":" + file;
                    if (!sources.TryGetValue(key, out var source))
                    {
                        source = commit is null ? ReadCurrent(root, file) : ReadAtCommit(root, commit, file);
                        sources[key] = source;
                    }

                    if (commit is null)
                    {
                        current++;
                    }
                    else if (source is not null)
                    {
                        historical++;
                    }

                    if (source is null)
                    {
                        notChecked.Add($"{at}: {citation.Value} (git, or this commit, is not at hand)");
                    }
                    else if (source.Problem is { } missing)
                    {
                        stale.Add($"{at}: {citation.Value}: {missing}");
                    }
                    else if (Verify(source, member, quotes) is { } problem)
                    {
                        stale.Add($"{at}: {citation.Value}: {problem}");
                    }
                }
            }
        }

        return new Result(current, historical, notChecked, stale);
    }

    /// <summary>Returns why <paramref name="quotes"/> are not, in that order, in <paramref name="member"/> of the source, or <see langword="null"/>.</summary>
    private static string? Verify(Source source, string member, List<string> quotes)
    {
        var bodies = source.Members(member);
        if (bodies.Count == 0)
        {
            return $"no member {member} in {source.Name}";
        }

        string? problem = null;
        foreach (var body in bodies)
        {
            var from = 0;
            problem = null;
            foreach (var quote in quotes.Select(Normalize))
            {
                var found = body.IndexOf(quote, from, StringComparison.Ordinal);
                if (found < 0)
                {
                    problem = from == 0
                        ? $"\"{quote}\" is not in {member}"
                        : $"\"{quote}\" is not in {member} after the quote before it";
                    break;
                }

                from = found + quote.Length;
            }

            if (problem is null)
            {
                return null;
            }
        }

        return problem;
    }

    private static string Decode(string quote)
    {
        for (var i = 0; i < s_xmlEntities.Length; i += 2)
        {
            quote = quote.Replace(s_xmlEntities[i], s_xmlEntities[i + 1], StringComparison.Ordinal);
        }

        return quote;
    }

    private static string Normalize(string code) => Whitespace().Replace(code, " ").Trim();

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ThreadLineage.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No directory above {AppContext.BaseDirectory} contains ThreadLineage.slnx.");
    }

    private static Source ReadCurrent(string root, string file)
    {
        var paths = Directory.GetFiles(Path.Combine(root, "src"), file, SearchOption.AllDirectories);
        return paths.Length == 1
            ? Source.Of(file, File.ReadAllText(paths[0]))
            : Source.Missing(file, paths.Length == 0 ? $"no file {file} under src/" : string.Create(CultureInfo.InvariantCulture, $"{paths.Length} files named {file} under src/"));
    }

    /// <summary>Reads <paramref name="file"/> as it was at <paramref name="commit"/>; <see langword="null"/> if git or the commit is not at hand.</summary>
    private static Source? ReadAtCommit(string root, string commit, string file)
    {
        if (Git(root, "rev-parse", "--verify", "--quiet", commit + "^{commit}") is null
            || Git(root, "ls-tree", "-r", "--name-only", commit, "--", "src") is not { } tree)
        {
            return null;
        }

        var paths = tree.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(path => path.EndsWith("/" + file, StringComparison.Ordinal))
            .ToList();
        if (paths.Count != 1)
        {
            return Source.Missing(file, string.Create(CultureInfo.InvariantCulture, $"{paths.Count} files named {file} under src/ at {commit}"));
        }

        return Git(root, "show", $"{commit}:{paths[0]}") is { } text
            ? Source.Of($"{file} at {commit}", text)
            : null;
    }

    /// <summary>Runs git in <paramref name="root"/>; its output, or <see langword="null"/> if it failed or is not installed.</summary>
    private static string? Git(string root, params string[] arguments)
    {
        var start = new ProcessStartInfo("git")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-C");
        start.ArgumentList.Add(root);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var git = Process.Start(start);
            if (git is null)
            {
                return null;
            }

            // Its error output is read as it comes (and dropped), so that neither pipe can fill up and block it.
            git.ErrorDataReceived += static (_, _) => { };
            git.BeginErrorReadLine();
            var output = git.StandardOutput.ReadToEnd();
            git.WaitForExit();
            return git.ExitCode == 0 ? output : null;
        }
        catch (Win32Exception)
        {
            return null;
        }
    }

    // A file name followed by a colon and a line number (or a range): what citations used to be.
    [GeneratedRegex(@"\b[\w.]+\.cs:\d+")]
    private static partial Regex LineNumberCitation();

    // [commit:]file.cs, member[: "quote"[, "quote"]...]; the member is not itself a file name (as in "PoolRun.cs, BorrowedRun.cs").
    [GeneratedRegex(@"(?<![\w.^:~])(?:(?<commit>[0-9a-f]{7,40}\^*):)?(?<file>[A-Z]\w*(?:\.[A-Z]\w*)*\.cs), (?<member>[A-Z_]\w*)(?!\w|\.\w)(?:: ""(?<quote>[^""\r\n]*)""(?:, ""(?<quote>[^""\r\n]*)"")*)?")]
    private static partial Regex Citation();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    /// <summary>What <see cref="Check"/> found.</summary>
    /// <param name="Current">Citations of the current source, all checked.</param>
    /// <param name="Historical">Citations at a commit that were checked against it.</param>
    /// <param name="Unchecked">Citations at a commit that could not be checked (no git, or the commit is not in this clone).</param>
    /// <param name="Stale">Citations whose file, member or quote is not (or no longer) in the source, and line-number citations.</param>
    public sealed record Result(int Current, int Historical, IReadOnlyList<string> Unchecked, IReadOnlyList<string> Stale)
    {
        /// <summary>Gets a summary, then the stale citations, then those not checked, one per line.</summary>
        public string Report
        {
            get
            {
                var lines = new List<string>
                {
                    string.Create(CultureInfo.InvariantCulture, $"{Current} citations of the current source and {Historical} at older commits checked, {Unchecked.Count} at older commits not checked, {Stale.Count} stale"),
                };
                lines.AddRange(Stale.Select(static s => "STALE  " + s));
                lines.AddRange(Unchecked.Select(static s => "not checked  " + s));
                return string.Join(Environment.NewLine, lines);
            }
        }
    }

    /// <summary>A source file: its text without comments, and the same with literals blanked too, to find members by their braces.</summary>
    private sealed class Source
    {
        private readonly string _code;
        private readonly string _shape;

        private Source(string name, string code, string shape, string? problem)
        {
            Name = name;
            Problem = problem;
            _code = code;
            _shape = shape;
        }

        public string Name { get; }

        /// <summary>Gets why the file cannot be read, if it cannot.</summary>
        public string? Problem { get; }

        public static Source Of(string name, string text)
        {
            var (code, shape) = Blank(text.ReplaceLineEndings("\n"));
            return new Source(name, code, shape, problem: null);
        }

        public static Source Missing(string name, string problem) => new(name, string.Empty, string.Empty, problem);

        /// <summary>Gets the text of each declaration of <paramref name="member"/> (declaration and body, whitespace normalized).</summary>
        public List<string> Members(string member)
        {
            var declaration = new Regex(
                @"^[ \t]*(?:(?:public|private|protected|internal|file|static|extern|virtual|abstract|sealed|override|readonly|unsafe|required|volatile|async|const|partial)\s+)+[^;{}=()\n]*?(?<![\w.])"
                + Regex.Escape(member)
                + @"\s*(?:<[^<>;{}()]*>\s*)?(?=[({;=])",
                RegexOptions.Multiline);
            return declaration.Matches(_shape)
                .Select(match => Normalize(_code[match.Index..EndOfMember(_shape, match.Index + match.Length)]))
                .ToList();
        }

        /// <summary>Where the member that continues at <paramref name="at"/> (its parameters, body, initializer) ends.</summary>
        private static int EndOfMember(string shape, int at)
        {
            for (var i = at; i < shape.Length; i++)
            {
                switch (shape[i])
                {
                    case '(' or '[':
                        i = Closing(shape, i);
                        break;
                    case '{':
                        return Closing(shape, i) + 1;
                    case ';':
                        return i + 1;
                    case '=':
                        for (var depth = 0; i < shape.Length; i++)
                        {
                            depth += shape[i] switch { '(' or '[' or '{' => 1, ')' or ']' or '}' => -1, _ => 0 };
                            if (depth == 0 && shape[i] == ';')
                            {
                                return i + 1;
                            }
                        }

                        return shape.Length;
                }
            }

            return shape.Length;
        }

        /// <summary>The index of the bracket that closes the one at <paramref name="open"/> (literals and comments are blanked).</summary>
        private static int Closing(string shape, int open)
        {
            var depth = 0;
            for (var i = open; i < shape.Length; i++)
            {
                depth += shape[i] switch { '(' or '[' or '{' => 1, ')' or ']' or '}' => -1, _ => 0 };
                if (depth == 0)
                {
                    return i;
                }
            }

            return shape.Length - 1;
        }

        /// <summary>Blanks comments (in both results) and string and character literals (in the second), keeping every index and line break.</summary>
        private static (string Code, string Shape) Blank(string text)
        {
            var code = text.ToCharArray();
            var shape = text.ToCharArray();
            for (var i = 0; i < text.Length;)
            {
                var end = i;
                if (string.CompareOrdinal(text, i, "//", 0, 2) == 0)
                {
                    end = text.IndexOf('\n', i) is var newline and >= 0 ? newline : text.Length;
                    Fill(code, i, end);
                }
                else if (string.CompareOrdinal(text, i, "/*", 0, 2) == 0)
                {
                    end = text.IndexOf("*/", i + 2, StringComparison.Ordinal) is var close and >= 0 ? close + 2 : text.Length;
                    Fill(code, i, end);
                }
                else if (IsLiteral(text, i))
                {
                    end = SkipLiteral(text, i);
                }

                if (end == i)
                {
                    i++;
                    continue;
                }

                Fill(shape, i, end);
                i = end;
            }

            return (new string(code), new string(shape));
        }

        private static void Fill(char[] text, int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                text[i] = text[i] == '\n' ? '\n' : ' ';
            }
        }

        private static bool IsLiteral(string text, int i)
        {
            if (text[i] is '"' or '\'')
            {
                return true;
            }

            // $"...", @"...", $@"...", @$"..." (an @ before an identifier is not a literal).
            var j = i;
            while (j < text.Length && text[j] is '$' or '@')
            {
                j++;
            }

            return j > i && j < text.Length && text[j] == '"';
        }

        /// <summary>The index just after the string or character literal that starts at <paramref name="i"/>.</summary>
        private static int SkipLiteral(string text, int i)
        {
            var interpolated = false;
            var verbatim = false;
            for (; text[i] is '$' or '@'; i++)
            {
                interpolated |= text[i] == '$';
                verbatim |= text[i] == '@';
            }

            if (text[i] == '\'')
            {
                i += text[i + 1] == '\\' ? 3 : 2;
                while (i < text.Length && text[i] != '\'')
                {
                    i++;
                }

                return Math.Min(i + 1, text.Length);
            }

            if (string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0)
            {
                // A raw string literal: up to the next three quotes.
                var close = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                return close < 0 ? text.Length : close + 3;
            }

            for (i++; i < text.Length; i++)
            {
                var c = text[i];
                if (c == '\\' && !verbatim)
                {
                    i++;
                }
                else if (c == '"')
                {
                    if (!verbatim || i + 1 >= text.Length || text[i + 1] != '"')
                    {
                        return i + 1;
                    }

                    i++;
                }
                else if (c == '{' && interpolated)
                {
                    if (i + 1 < text.Length && text[i + 1] == '{')
                    {
                        i++;
                        continue;
                    }

                    // An interpolation hole: up to its closing brace, over the literals inside it.
                    for (var depth = 1; depth > 0 && ++i < text.Length;)
                    {
                        if (IsLiteral(text, i))
                        {
                            i = SkipLiteral(text, i) - 1;
                        }
                        else
                        {
                            depth += text[i] switch { '{' => 1, '}' => -1, _ => 0 };
                        }
                    }
                }
                else if (c == '\n' && !verbatim)
                {
                    return i;
                }
            }

            return text.Length;
        }
    }
}
