/// A binary min-heap: O(log n) insert and removal of the smallest element, O(1) peek.
///
/// The scheduler keeps two of these (returned pieces by index, endgame candidates by age).
/// The package has no dependency that provides a heap to SonicSwarm, and this is all it needs.
struct MinHeap<Element: Comparable> {
    private(set) var elements: [Element]

    init() {
        elements = []
    }

    /// Builds a heap from arbitrary elements in O(n).
    init(_ unordered: [Element]) {
        elements = unordered
        var index = elements.count / 2
        while index > 0 {
            index -= 1
            siftDown(from: index)
        }
    }

    var count: Int { elements.count }
    var isEmpty: Bool { elements.isEmpty }

    /// The smallest element, or nil when empty.
    var min: Element? { elements.first }

    mutating func insert(_ element: Element) {
        elements.append(element)
        siftUp(from: elements.count - 1)
    }

    /// Removes and returns the smallest element, or nil when empty.
    @discardableResult
    mutating func popMin() -> Element? {
        guard let last = elements.popLast() else { return nil }
        guard !elements.isEmpty else { return last }
        let smallest = elements[0]
        elements[0] = last
        siftDown(from: 0)
        return smallest
    }

    private mutating func siftUp(from start: Int) {
        var child = start
        let element = elements[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard element < elements[parent] else { break }
            elements[child] = elements[parent]
            child = parent
        }
        elements[child] = element
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        let element = elements[parent]
        let count = elements.count
        while true {
            var smallest = 2 * parent + 1
            guard smallest < count else { break }
            let right = smallest + 1
            if right < count && elements[right] < elements[smallest] {
                smallest = right
            }
            guard elements[smallest] < element else { break }
            elements[parent] = elements[smallest]
            parent = smallest
        }
        elements[parent] = element
    }
}

extension MinHeap: Sendable where Element: Sendable {}
