using System.Text;

namespace ThreadLineage.Demo;

/// <summary>Console layout for the demo: numbered sections, indented lines, wrapped paragraphs.</summary>
internal static class Show
{
    private const string Indent = "   ";
    private const int Width = 100;

    public static void Title(string title)
    {
        Console.WriteLine(title);
        Console.WriteLine(new string('=', title.Length));
    }

    public static void Section(int number, string title)
    {
        Console.WriteLine();
        Console.WriteLine($"{number}. {title}");
    }

    public static void Line(string text = "") => Console.WriteLine(text.Length == 0 ? "" : Indent + text);

    /// <summary>Writes <paramref name="text"/> word-wrapped, every line indented by <paramref name="indent"/> extra spaces.</summary>
    public static void Wrapped(string text, int indent = 0)
    {
        var prefix = Indent + new string(' ', indent);
        var line = new StringBuilder();
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && prefix.Length + line.Length + 1 + word.Length > Width)
            {
                Console.WriteLine(prefix + line);
                line.Clear();
            }

            line.Append(line.Length == 0 ? "" : " ").Append(word);
        }

        if (line.Length > 0)
        {
            Console.WriteLine(prefix + line);
        }
    }

    /// <summary>Writes a multi-line block (such as <c>Lineage.Describe()</c>) indented.</summary>
    public static void Block(string text)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Console.WriteLine(Indent + line.TrimEnd('\r'));
        }
    }

    /// <summary>The name of the thread running the caller, or what kind of thread it is.</summary>
    public static string CurrentThread()
    {
        var thread = Thread.CurrentThread;
        return thread.Name ?? $"thread {thread.ManagedThreadId}";
    }
}
